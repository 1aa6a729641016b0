"""Profiles a CSV with ydata-profiling in minimal mode, as tools/bench/pipeline.bench.ts compares.

Prints one JSON line: seconds to read the CSV with pandas, seconds to compute the profile's
description (every statistic; rendering it to HTML or JSON is left out), the CPU seconds of both
(every thread), and the row count.
"""
import json
import sys
import time

import pandas as pd
from ydata_profiling import ProfileReport

path = sys.argv[1]
started = time.perf_counter()
cpu_started = time.process_time()
df = pd.read_csv(path)
read = time.perf_counter() - started
report = ProfileReport(df, minimal=True, progress_bar=False)
description = report.get_description()
total = time.perf_counter() - started
cpu = time.process_time() - cpu_started
print(json.dumps({"read_s": read, "profile_s": total - read, "total_s": total, "cpu_s": cpu, "rows": len(df)}))
