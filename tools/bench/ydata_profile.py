"""Profiles a CSV with ydata-profiling in minimal mode, as tools/bench/pipeline.bench.ts compares.

Prints one JSON line: seconds to read the CSV with pandas, seconds to compute the profile's
description (every statistic; rendering it to HTML or JSON is left out), and the row count.
"""
import json
import sys
import time

import pandas as pd
from ydata_profiling import ProfileReport

path = sys.argv[1]
started = time.perf_counter()
df = pd.read_csv(path)
read = time.perf_counter() - started
report = ProfileReport(df, minimal=True, progress_bar=False)
description = report.get_description()
total = time.perf_counter() - started
print(json.dumps({"read_s": read, "profile_s": total - read, "total_s": total, "rows": len(df)}))
