"""Neural-network building blocks of the families (nn.Modules and their config sections); the recipes
(`dlbench.recipes`) wire them to data."""
