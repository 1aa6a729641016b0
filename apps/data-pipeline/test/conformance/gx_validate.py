"""Runs a GX Core 1.x expectation suite (JSON) on a CSV with GX's pandas engine and prints, per
expectation in suite order, its type, success, unexpected_count and observed_value as JSON lines.
The data-pipeline conformance test compares these with the service's own quality gate.

usage: python gx_validate.py <data.csv> <suite.json>
"""
import json
import sys

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration


def main() -> None:
    data_path, suite_path = sys.argv[1], sys.argv[2]
    with open(suite_path, encoding="utf-8") as f:
        suite_json = json.load(f)
    df = pd.read_csv(data_path)
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("conformance")
        .add_dataframe_asset("data")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": df})
    )
    for expectation in suite_json["expectations"]:
        config = ExpectationConfiguration(type=expectation["type"], kwargs=expectation["kwargs"])
        result = batch.validate(config.to_domain_obj(), result_format="SUMMARY")
        if result.exception_info and result.exception_info.get("raised_exception"):
            raise SystemExit(f"{expectation['type']}: {result.exception_info['exception_message']}")
        details = result.result or {}
        observed = details.get("observed_value")
        print(
            json.dumps(
                {
                    "type": expectation["type"],
                    "success": bool(result.success),
                    "unexpected_count": details.get("unexpected_count"),
                    "observed_value": observed if isinstance(observed, (int, float, str)) or observed is None else str(observed),
                }
            )
        )


if __name__ == "__main__":
    main()
