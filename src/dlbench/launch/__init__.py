"""Multi-process and multi-node training: `dlbench train --nproc-per-node N [--nnodes M ...]` builds a torchrun
invocation (launch/torchrun.py) whose workers (launch/worker.py, `torchrun -m dlbench.launch.worker`) each run
`api.train` with a torch.distributed context (training/distributed.py)."""
