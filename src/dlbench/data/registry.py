"""One explicit table: data.kind -> (config class, builder). New kinds are added here."""
from __future__ import annotations

from dlbench.data.arrays import NpzData, build_npz
from dlbench.data.audio import AudioFolderData, build_audio_folder
from dlbench.data.corpus import CorpusData, build_corpus
from dlbench.data.builtin import (DiabetesData, DigitsData, Mnist1dData, build_diabetes, build_digits,
                                  build_mnist1d)
from dlbench.data.images import ImageFolderData, build_image_folder
from dlbench.data.sklearn_tables import SklearnTableData, build_sklearn_table
from dlbench.data.tabular import CsvData, build_csv
from dlbench.data.timeseries import TimeSeriesData, build_timeseries
from dlbench.data.text import (NumbersData, NumbersLanguageData, ParallelTsvData, TextCsvData, build_numbers,
                               build_numbers_language, build_parallel_tsv, build_text_csv)

DATASETS = {
    "digits": (DigitsData, build_digits),
    "mnist1d": (Mnist1dData, build_mnist1d),
    "diabetes": (DiabetesData, build_diabetes),
    "csv": (CsvData, build_csv),
    "image-folder": (ImageFolderData, build_image_folder),
    "npz": (NpzData, build_npz),
    "numbers": (NumbersData, build_numbers),
    "parallel-tsv": (ParallelTsvData, build_parallel_tsv),
    "text-csv": (TextCsvData, build_text_csv),
    "numbers-language": (NumbersLanguageData, build_numbers_language),
    "sklearn-table": (SklearnTableData, build_sklearn_table),
    "timeseries": (TimeSeriesData, build_timeseries),
    "corpus": (CorpusData, build_corpus),
    "audio-folder": (AudioFolderData, build_audio_folder),
}


def build_data(cfg):
    """Build the DataBundle for a validated data config."""
    return DATASETS[cfg.kind][1](cfg)


def extra_preprocessor(d: dict):
    """Preprocessors of kinds beyond the core (text tokenizers, ...) register here."""
    from dlbench.errors import UserError

    if d.get("kind") == "text":
        from dlbench.data.tokenize import TextPreprocessor

        return TextPreprocessor.from_json(d)
    if d.get("kind") == "audio":
        from dlbench.data.audio_signal import AudioPreprocessor

        return AudioPreprocessor.from_json(d)

    raise UserError(f"model.json names an unknown preprocessing kind '{d.get('kind')}'",
                    "was the run made by a newer dlbench?")
