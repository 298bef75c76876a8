"""Server sizing: from a workload measured on this machine to the servers that train it in time.

devices.py   the candidate table (devices.yaml, each row with its public source), user rows, this CPU
workload.py  the workload's demands, measured from one training step (FLOPs, memory, gradients, operators)
source.py    what is sized: a config, a benchmark, a run, a results folder (and the work it measured)
model.py     the arithmetic: time-to-train, all-reduce, CPU cores, RAM, storage and network per node
plan.py      `dlbench size`: profile, calibrate, predict every candidate; advice.py: the sentences
"""
