"""The workload's demands measured from one training step, against hand-counted values."""
from dlbench.api import _as_config
from dlbench.size.workload import measure_step


def test_mlp_step_flops_memory_and_gradients_by_hand():
    # digits flattened: 64 inputs -> 32 hidden -> 10 classes, batch 16, AdamW
    cfg = _as_config({"data": {"kind": "digits", "flatten": True}, "model": {"name": "mlp", "hidden": [32]},
                      "train": {"batch_size": 16, "threads": 1}}, [])
    d = measure_step(cfg)
    params = 64 * 32 + 32 + 32 * 10 + 10
    assert d.params.value == params and d.grad_bytes.value == 4 * params and d.weight_bytes.value == 4 * params
    assert d.optimizer_bytes.value >= 2 * 4 * params  # AdamW: exp_avg + exp_avg_sq (+ step counters)
    # matmuls: forward 2*64*32 + 2*32*10 per sample; backward: both weight gradients and the hidden layer's
    # input gradient (the data needs none): 2*64*32 + 2*32*10 + 2*32*10
    fwd = 2 * 64 * 32 + 2 * 32 * 10
    linear_mm = fwd + 2 * 64 * 32 + 2 * 2 * 32 * 10
    assert d.flops_per_sample.value == linear_mm  # torch's counter counts matmuls (2 FLOPs per multiply-add)
    assert d.eval_flops_per_sample.value == fwd
    assert d.activation_bytes_per_sample.value > 0 and d.operators_per_step.value > 10
    assert "estimated from the model" in d.peak_memory_bytes.source  # no GPU here
    assert d.peak_memory_bytes.value >= d.weight_bytes.value + d.grad_bytes.value + d.optimizer_bytes.value
    assert d.storage_bytes_per_sample.value > 0 and d.batch == 16 and d.val_samples > 0
