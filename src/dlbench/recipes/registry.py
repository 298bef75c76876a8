"""The one table of model families: model.name -> recipe. A new family is one recipe and one line here."""
from __future__ import annotations

from dlbench.errors import UserError
from dlbench.recipes.base import Recipe
from dlbench.recipes.cnn import CNNRecipe
from dlbench.recipes.gan import GANRecipe
from dlbench.recipes.mlp import MLPRecipe
from dlbench.recipes.rnn import RNNRecipe
from dlbench.recipes.transformer import TransformerRecipe

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    MLPRecipe(),
    CNNRecipe(),
    RNNRecipe(),
    TransformerRecipe(),
    GANRecipe(),
)}

ALIASES = {"transformer-seq2seq": "transformer", "rnn-seq2seq": "rnn"}
"""Names of dlbench 0.1 (the head was part of the name); configs and runs that use them still load."""


def get_recipe(name: str) -> Recipe:
    name = ALIASES.get(name, name)
    if name not in RECIPES:
        raise UserError(f"unknown model family '{name}'", f"use one of {', '.join(RECIPES)}")
    return RECIPES[name]


def build_model(mc, spec):
    """The model of a model config section on data described by `spec` (its recipe picks the head)."""
    return get_recipe(mc.name).build(mc, spec)
