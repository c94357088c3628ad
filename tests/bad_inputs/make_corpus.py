"""Write the bad-input corpus in this folder and its manifest ``expected.json``
(run from the repository root: ``python tests/bad_inputs/make_corpus.py``).

``expected.json`` maps each file name to the substring its one-line error message must contain, or
to ``null`` for a valid-but-odd file that must load. The entry point is chosen by the file name:

- ``params_*.json``  -> ``cptcore.params_io.loads``  (CLI: ``predict -p FILE run.csv``);
  ``params_predict_*.json`` load but predict nonsense: ``loads(...).predict_run(GOOD)``
- ``log_*``          -> ``cptcore.importers.read_any`` (CLI: ``import FILE``)
- anything else      -> ``cptcore.runs.read_run``     (CLI: ``fit FILE``; the dashboard's upload box)

Files over 1 MB are not committed: ``huge_files(tmp_path)`` writes the CSV bomb with millions of
columns, a data row with millions of fields and a 100 MB training stdout log at test time.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = "step,lr,phase,replay,loss_pt,loss_cpt"
ROWS = [
    "0,0,pt,0,,",
    "100,0.001,pt,0,3.21,3.94",
    "200,0.001,pt,0,3.05,3.77",
    "300,0.0005,cpt,0,3.12,3.31",
    "400,0.0001,cpt,0,3.15,3.12",
]
GOOD = HEADER + "\n" + "\n".join(ROWS) + "\n"


def canon(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def with_row(i: int, row: str) -> bytes:
    rows = list(ROWS)
    rows[i] = row
    return canon(*rows)


PARAMS = {
    "lambda": 0.999,
    "pt": {
        "L0": 1.9,
        "A": 0.9,
        "alpha": 0.45,
        "C1": 0.35,
        "C2": 0.3,
        "B": 0.35,
        "E": 8.0,
        "beta": 0.6,
    },
    "cpt": {
        "L0": 1.5,
        "A": 1.1,
        "alpha": 0.55,
        "C1": 0.3,
        "C2": 0.4,
        "B": -0.9,
        "E": 40.0,
        "beta": 0.5,
    },
}


def params(**changes) -> bytes:
    d = json.loads(json.dumps(PARAMS))
    for path, v in changes.items():
        keys = path.split("__")
        node = d
        for k in keys[:-1]:
            node = node[k]
        if v is _DROP:
            node.pop(keys[-1])
        else:
            node[keys[-1]] = v
    return json.dumps(d).encode()


_DROP = object()


def _record(payload: bytes) -> bytes:
    from cptcore.importers.tb_events import masked_crc

    head = struct.pack("<Q", len(payload))
    return (
        head
        + struct.pack("<I", masked_crc(head))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


def _scalar_event(step: int, tag: str, value: float) -> bytes:
    """An Event (step, summary with one simple_value), as PyTorch's SummaryWriter writes it."""
    t = tag.encode()
    val = b"\x0a" + bytes([len(t)]) + t + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + bytes([len(val)]) + val
    return b"\x09" + bytes(8) + b"\x10" + bytes([step]) + b"\x2a" + bytes([len(summary)]) + summary


def _damaged_events() -> bytes:
    """Good records, then a record header declaring 2^62 bytes (with a valid length checksum), then
    more good records: the reader must not take it for the cut-off last record and drop the rest."""
    from cptcore.importers.tb_events import masked_crc

    good = _record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2")
    good += _record(_scalar_event(0, "lr", 3e-4)) + _record(_scalar_event(50, "lr", 3e-4))
    head = struct.pack("<Q", 2**62)
    return (
        good + head + struct.pack("<I", masked_crc(head)) + _record(_scalar_event(100, "lr", 3e-4))
    )


def _zip_of_good() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("run.csv", date_time=(2026, 11, 20, 10, 0, 0)), GOOD)
    return buf.getvalue()


WANDB_HEAD = '"Step","cpt-a - train/lr","cpt-a - eval/loss_general","cpt-a - eval/loss_code"'


def corpus() -> dict[str, tuple[bytes, str | None]]:
    """file name -> (content, substring of the expected message or None for 'loads fine')."""
    c: dict[str, tuple[bytes, str | None]] = {
        # --- the canonical run CSV: structure
        "empty.csv": (b"", "the file is empty"),
        "whitespace_only.csv": (b"  \n\n\t\n", "the file is empty"),
        "header_only.csv": (canon(), "at least two rows"),
        "single_row.csv": (canon(ROWS[0]), "at least two rows"),
        "missing_lr.csv": (b"step,phase\n0,pt\n1,pt\n", "missing column lr"),
        "missing_phase.csv": (b"step,lr\n0,0\n100,0.001\n", "missing column phase"),
        "missing_step_and_lr.csv": (b"phase,loss_pt\npt,3\npt,2.9\n", "missing columns step, lr"),
        "wandb_header_as_canonical.csv": (b"Step,loss\n0,3\n1,2.9\n", "missing columns"),
        "no_header.csv": (b"0,0,pt\n100,0.001,pt\n200,0.001,pt\n", "missing columns"),
        "single_column_log.csv": (b"iteration 100 lm loss 3.2\niteration 200 lm loss 3.1\n", "no comma, tab or semicolon"),
        "html_page.csv": (b"<!DOCTYPE html>\n<html><head><title>W&B</title></head><body>Export</body></html>\n", "no comma, tab or semicolon"),
        "json_instead_of_csv.csv": (b'{"step": [0, 1], "lr": [0, 0.001], "phase": ["pt", "pt"]}\n', "missing columns"),
        "ragged_rows.csv": (with_row(2, "200,0.001,pt,0,3.05,3.77,9,9,9"), "cannot parse as CSV"),
        "duplicate_column_case.csv": (canon(*ROWS, header=HEADER + ",Step"), "given twice"),
        "too_many_columns.csv": ((",".join(f"c{i}" for i in range(1500)) + "\n" + ",".join("1" * 1500) + "\n").encode(), "header row is far too long"),
        "semicolon_bomb.csv": ((";".join("x" * 1 for _ in range(60_000)) + "\n1;2\n").encode(), "header row is far too long"),
        "long_single_line.csv": (b"step,lr,phase," + b"a" * 300_000, "header row is far too long"),
        # --- the canonical run CSV: values
        "nan_lr.csv": (with_row(1, "100,nan,pt,0,3.21,3.94"), "column 'lr', row 3: not a number"),
        "inf_lr.csv": (with_row(1, "100,inf,pt,0,3.21,3.94"), "infinite value"),
        "inf_loss.csv": (with_row(2, "200,0.001,pt,0,inf,3.77"), "column 'loss_pt', row 4: infinite value"),
        "minus_inf_loss.csv": (with_row(2, "200,0.001,pt,0,3.05,-inf"), "infinite value"),
        "text_in_step.csv": (with_row(2, "two hundred,0.001,pt,0,3.05,3.77"), "column 'step', row 4: not a number"),
        "text_in_loss.csv": (with_row(2, "200,0.001,pt,0,n/a,3.77"), "not a number"),
        "comma_decimal.csv": (with_row(1, '100,"0,001",pt,0,3.21,3.94'), "not a number"),
        "empty_lr_cell.csv": (with_row(1, "100,,pt,0,3.21,3.94"), "empty cell"),
        "empty_step_cell.csv": (with_row(1, ",0.001,pt,0,3.21,3.94"), "empty cell"),
        "negative_lr.csv": (with_row(2, "200,-0.001,pt,0,3.05,3.77"), "negative learning rate"),
        "all_zero_lr.csv": (canon(*(r.replace("0.001", "0").replace("0.0005", "0").replace("0.0001", "0") for r in ROWS)), "every learning rate is zero"),
        "lr_as_percent.csv": (with_row(1, "100,3,pt,0,3.21,3.94"), "learning rate above 1"),
        "steps_backwards.csv": (with_row(2, "50,0.001,pt,0,3.05,3.77"), "steps go backwards"),
        "duplicated_step.csv": (with_row(2, "100,0.001,pt,0,3.05,3.77"), "duplicated step"),
        "fractional_step.csv": (with_row(1, "100.5,0.001,pt,0,3.21,3.94"), "whole numbers"),
        "negative_step.csv": (canon("-100,0,pt,0,,", *ROWS[1:]), "whole numbers"),
        "astronomical_step.csv": (with_row(4, "1e30,0.0001,cpt,0,3.15,3.12"), "too many steps"),
        "steps_over_limit.csv": (with_row(4, "30000000,0.0001,cpt,0,3.15,3.12"), "too many steps"),
        "zero_loss.csv": (with_row(2, "200,0.001,pt,0,0,3.77"), "loss must be > 0"),
        "negative_loss.csv": (with_row(3, "300,0.0005,cpt,0,3.12,-0.5"), "loss must be > 0"),
        "perplexity_not_loss.csv": (with_row(3, "300,0.0005,cpt,0,22.6,120.0"), "implausibly large"),
        "bad_phase.csv": (with_row(1, "100,0.001,train,0,3.21,3.94"), "phase must be 'pt' or 'cpt'"),
        "pt_after_cpt.csv": (with_row(4, "400,0.0001,pt,0,3.15,3.12"), "'pt' row comes after CPT started"),
        "pt_not_from_zero.csv": (canon(*ROWS[1:]), "must start at step 0"),
        "replay_percent.csv": (canon(*(r.replace(",0,", ",25,", 1) if r.startswith(("3", "4")) else r for r in ROWS)), "replay ratio outside 0..1"),
        "replay_changes.csv": (with_row(4, "400,0.0001,cpt,0.5,3.15,3.12"), "replay ratio changes"),
        # --- encodings and binary content
        "binary_junk.bin": (bytes(range(256)) * 16, "not a text file"),
        "png_as_csv.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary content"),
        "zip_of_csv.csv": (_zip_of_good(), "not a text file"),
        "nul_bytes.csv": (GOOD.encode().replace(b"pt,0,3.05", b"pt,0\x00\x00,3.05"), "binary content"),
        "latin1.csv": (canon(*ROWS[:-1], "400,0.0001,cpt,0,3.15,3.12").replace(b"phase", "phasé".encode("latin-1")), "not a text file"),
        # --- valid but odd: must load
        # --- issue 12
        "loss_pt_twice.csv": (canon(*(r + "," + r.split(",")[4] for r in ROWS), header=HEADER + ",loss_pt"), "column 'loss_pt': a column is given twice"),
        "tiny_loss.csv": (with_row(2, "200,0.001,pt,0,1e-300,3.77"), "column 'loss_pt', row 4: loss is implausibly small"),
        "steps_twenty_million.csv": (with_row(4, "19999999,0.0001,cpt,0,3.15,3.12"), "too many steps"),
        "ok_utf8_bom.csv": (b"\xef\xbb\xbf" + GOOD.encode(), None),
        "ok_utf16le_bom.csv": (GOOD.encode("utf-16"), None),
        "ok_utf16be_bom.csv": (b"\xfe\xff" + GOOD.encode("utf-16-be"), None),
        "ok_utf16le_no_bom.csv": (GOOD.encode("utf-16-le"), None),
        "ok_crlf.csv": (GOOD.replace("\n", "\r\n").encode(), None),
        "ok_semicolon.csv": (GOOD.replace(",", ";").encode(), None),
        "ok_tab.csv": (GOOD.replace(",", "\t").encode(), None),
        "ok_upper_case_header.csv": (GOOD.replace(HEADER, "STEP, LR, Phase, Replay, Loss_PT, Loss_CPT").encode(), None),
        "ok_blank_lines.csv": ((GOOD + "\n\n\n").encode(), None),
        "ok_only_required_columns.csv": (canon(*(",".join(r.split(",")[:3]) for r in ROWS), header="step,lr,phase"), None),
        # --- params.json
        "params_empty.json": (b"", "not valid JSON"),
        "params_truncated.json": (params()[:50], "not valid JSON"),
        "params_array.json": (b"[1, 2, 3]", "expected a JSON object"),
        "params_no_sections.json": (b'{"lambda": 0.999}', "no 'pt' or 'cpt' parameter section"),
        "params_missing_keys.json": (params(pt__beta=_DROP, pt__E=_DROP), "missing parameters E, beta"),
        "params_section_not_object.json": (params(pt=3), "expected an object"),
        "params_absurd_alpha.json": (params(pt__alpha=1e6), "alpha is outside the plausible range"),
        "params_negative_L0.json": (params(cpt__L0=-2.0), "L0 is outside the plausible range"),
        "params_nan.json": (params(pt__A=float("nan")), "must be a finite number"),
        "params_infinity.json": (params(pt__A=float("inf")), "must be a finite number"),
        "params_string_number.json": (params(pt__L0="3.0"), "must be a finite number"),
        "params_bool_number.json": (params(pt__C1=True), "must be a finite number"),
        "params_lambda_one.json": (params(**{"lambda": 1.0}), "lambda must be a number between 0 and 1"),
        "params_only_a1.json": (params(pt__a1=0.5), "give both a1 and a2"),
        "params_unknown_s2_form.json": (params(s2_form="quadratic"), "unknown s2_form"),
        "params_s2_form_list.json": (params(s2_form=["paper"]), "unknown s2_form"),
        "params_huge_integer.json": (params(pt__L0=10**400), "must be a finite number"),
        "params_thousands_of_digits.json": (b'{"pt": {"L0": ' + b"9" * 5000 + b"}}", "unreadable JSON"),
        "params_deep_nesting.json": (b'{"pt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "unreadable JSON"),
        "params_binary.json": (bytes(range(128, 256)) * 4, "not a text file"),
        "params_ok_utf16.json": (params().decode().encode("utf-16"), None),
        "params_ok_junk_diagnostics.json": (params(pt__metrics=[{"run": "a", "n": 3, "mae": 10**400, "max_error": 1}], pt__uncertainty={"free": ["L0"], "cov": [[10**400]]}, pt__warnings="not a list"), None),
        # --- params.json: values the predictions depend on (issue 12)
        "params_fit_from_infinity.json": (params(pt__fit_from={"min_step": float("inf")}), "fit_from.min_step': must be a whole number of steps"),
        "params_s1pt_nan.json": (params(cpt__S1pt={"cpt-a": float("nan")}), "S1pt must be a finite number > 0 (got nan)"),
        "params_s1pt_negative.json": (params(cpt__S1pt={"cpt-a": -3.0}), "S1pt must be a finite number > 0 (got -3.0)"),
        "params_s1pt_huge_integer.json": (params(pt__S1pt={"a": 10**400}), "S1pt must be a finite number > 0"),
        "params_success_string.json": (params(cpt__success="false"), "'cpt.success': must be true or false (got 'false')"),
        # load, but predict nonsense on the plain run (tests: predicted through GOOD)
        "params_predict_edge_of_ranges.json": (params(pt__alpha=20, pt__E=1e9, cpt__alpha=20, cpt__E=1e9), "the parameters predict an implausible general loss at step 100"),
        "params_predict_negative_loss.json": (params(pt__C2=1e6), "the parameters predict an implausible general loss at step 300"),
        # --- logs through the importers
        "log_wandb_only_min_max.csv": (b'"Step","cpt-a - eval/loss__MIN","cpt-a - eval/loss__MAX"\n0,3,3\n50,2.9,2.9\n', "no metric columns"),
        "log_wandb_all_nan.csv": ((WANDB_HEAD + "\n0,NaN,NaN,NaN\n50,NaN,NaN,NaN\n").encode(), "no learning rate or validation loss found"),
        "log_wandb_ambiguous_loss.csv": (b'"Step","cpt-a - train/lr","cpt-a - eval/loss"\n0,0.0003,3.1\n50,0.0003,3.0\n', "general or the domain set"),
        "log_wandb_text_value.csv": ((WANDB_HEAD + "\n0,0.0003,3.1,3.9\n50,oops,3.0,3.8\n").encode(), "not a number"),
        "log_wandb_zero_loss.csv": ((WANDB_HEAD + "\n0,0.0003,3.1,3.9\n50,0.0003,0,3.8\n").encode(), "loss must be > 0 at step 50"),
        "log_wandb_no_lr.csv": (b'"Step","cpt-a - eval/loss_general","cpt-a - eval/loss_code"\n0,3.1,3.9\n50,3.0,3.8\n', "--schedule"),
        "log_wandb_negative_lr.csv": ((WANDB_HEAD + "\n0,0.0003,3.1,3.9\n50,-0.0003,3.0,3.8\n").encode(), "negative learning rate at step 50"),
        "log_wandb_single_row.csv": ((WANDB_HEAD + "\n50,0.0003,3.0,3.8\n").encode(), "at least two rows"),
        "log_wandb_ok_unsorted_duplicated.csv": ((WANDB_HEAD + "\n100,0.0003,2.9,3.7\n0,0.0003,3.1,3.9\n50,0.0003,3.0,3.8\n50,0.0003,3.0,3.8\n").encode(), None),
        "log_tb_text_value.csv": (b"Wall time,Step,Value\n1732531200.1,10,0.0003\n1732531201.2,20,abc\n", "not a number"),
        "log_tb_learning_rate_percent.csv": (b"Wall time,Step,Value\n1732531200.1,10,3\n1732531201.2,20,3\n", "learning rate above 1"),
        "log_hf_empty_history.json": (b'{"global_step": 0, "log_history": []}', "no 'log_history' list"),
        "log_hf_entry_without_step.json": (b'{"log_history": [{"loss": 3.1, "learning_rate": 1e-4}]}', "has no 'step'"),
        "log_hf_truncated.json": (b'{"log_history": [{"step": 10, "loss": 3.1, "learning_rate": 1e-4}, {"st', "not valid JSON"),
        "log_hf_history_not_list.json": (b'{"log_history": {"step": 10}}', "no 'log_history' list"),
        "log_jsonl_not_objects.json": (b'{"step": 0, "lr": 0.0003}\n[1, 2]\n', "each line must be one JSON object"),
        "log_megatron_one_validation_set.csv": (
            b" iteration       10/    1000 | learning rate: 3.000000E-04 | lm loss: 3.2E+00 |\n"
            b" validation loss at iteration 10 | lm loss value: 3.1E+00 | lm loss PPL: 22.2 |\n"
            b" iteration       20/    1000 | learning rate: 3.000000E-04 | lm loss: 3.1E+00 |\n",
            "--map loss_cpt=validation lm loss",
        ),
        "log_generic_no_step.csv": (b"epoch,lr,val_loss_code\n0.1,0.0003,3.1\n0.2,0.0003,3.0\n", "no step column"),
        "log_events.out.tfevents.junk.bin": (b"\x00" * 7 + b"not an event file at all" * 10, "not a readable TensorBoard event file"),
        "log_events.out.tfevents.truncated.bin": (_record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2")[:-10] + b"", "not a readable TensorBoard event file"),
        "log_events.out.tfevents.no_scalars.bin": (_record(b"\x09" + bytes(8) + b"\x1a\x0dbrain.Event:2"), "no scalar summaries"),
        # --- logs: issue 12
        "log_megatron_iteration_2_63.csv": (
            b" iteration       10/    1000 | learning rate: 3.000000E-04 | lm loss: 3.2E+00 |\n"
            b" validation loss at iteration 10 [code] | lm loss value: 3.1E+00 |\n"
            b" iteration       9223372036854775808/    1000 | learning rate: 3.000000E-04 | lm loss: 3.1E+00 |\n",
            "row 3: iteration number beyond the supported run length (got '9223372036854775808')",
        ),
        "log_events.out.tfevents.damaged_length.bin": (_damaged_events(), "the record at byte 120 declares 4,611,686,018,427,387,904 bytes"),
        "log_hf_step_as_text.json": (b'{"log_history": [{"step": 0, "learning_rate": 0.0}, {"step": "ten", "learning_rate": 1e-4, "eval_code_loss": 3.1}]}', "row 2: a log_history entry's 'step' is not a number (got 'ten')"),
        "log_hf_ok_step_as_string.json": (b'{"log_history": [' + b", ".join(b'{"step": "%d", "learning_rate": 3e-4, "eval_web_loss": %s}' % (s, x) for s, x in ((0, b"3.1"), (50, b"3.0"), (100, b"2.9"))) + b"]}", None),
        "log_wandb_duplicate_column.csv": ((WANDB_HEAD + ',"cpt-a - eval/loss_code"\n0,0.0003,3.1,3.9,3.9\n50,0.0003,3.0,3.8,3.8\n').encode(), "column 'cpt-a - eval/loss_code': a column is given twice"),
        "log_wandb_tiny_loss.csv": ((WANDB_HEAD + "\n0,0.0003,3.1,3.9\n50,0.0003,1e-300,3.8\n").encode(), "loss is implausibly small at step 50"),
    }  # fmt: skip
    return c


def huge_files(folder: str) -> dict[str, str]:
    """Write the files too large to commit into ``folder``: file name -> expected substring.
    Written in chunks so that the 100 MB file never sits in the test's memory twice."""
    out = {}
    path = os.path.join(folder, "csv_bomb_columns.csv")
    with open(path, "w") as f:  # 3 million columns in the header
        f.write("step,lr,phase" + ",x" * 3_000_000 + "\n0,0,pt\n")
    out["csv_bomb_columns.csv"] = "header row is far too long"
    path = os.path.join(folder, "row_bomb.csv")
    with open(path, "w") as f:  # a fine header, then a row with 3 million fields
        f.write(GOOD + "500" + ",1" * 3_000_000 + "\n")
    out["row_bomb.csv"] = "cannot parse as CSV"
    path = os.path.join(folder, "stdout_100MB.csv")
    line = "step {} | loss 3.2140 | lr 3.00e-04 | 812.4 ms/step\n"  # a home-made print log
    block = "".join(line.format(i) for i in range(1000)).encode()
    with open(path, "wb") as f:
        for _ in range(100 * 2**20 // len(block) + 1):
            f.write(block)
    out["stdout_100MB.csv"] = "no comma, tab or semicolon"  # not a table, and no known log format
    return out


def write() -> None:
    c = corpus()
    for name in os.listdir(HERE):
        if name.endswith((".csv", ".bin", ".json")):
            os.remove(os.path.join(HERE, name))
    for name, (data, _) in c.items():
        assert len(data) < 1_000_000, name
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({k: v for k, (_, v) in c.items()}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(c)} files and expected.json written to {HERE}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    write()
