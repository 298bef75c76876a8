"""`dlbench predict`: inputs from a file through a finished run's codec and recipe, predictions to a file."""
from __future__ import annotations

from pathlib import Path

from dlbench.errors import UserError
from dlbench.prediction.outputs import write_predictions
from dlbench.run.load import load_run


def predict(run_dir: str | Path, inputs: str, output: str | None = None, device: str | None = None,
            beam: int | None = None) -> dict:
    """Predict for a file of inputs; write them to `output` (csv/npz/json, .txt for text) and return them.

    beam: beam size for translation models (default: the model's decode.beam)."""
    if output and Path(output).exists():
        raise UserError(f"--output {output} already exists", "choose a new file name (nothing is overwritten)")
    run = load_run(run_dir, device)
    run.recipe.check_predicts(run)
    x, rows = run.codec.read(inputs)
    preds = run.recipe.predict(run, x, beam=beam)
    if hasattr(run.codec, "write_predictions"):  # outputs with a layout of their own (forecasts with timestamps)
        preds, text = run.codec.write_predictions(preds, rows, output)
        return {"predictions": preds, "text": text}
    text = write_predictions(run.spec, preds, rows, output)
    return {"predictions": preds, "text": text}


__all__ = ["predict", "write_predictions"]
