"""Reads a run's Parquet export with pandas, as a user would (pd.read_parquet, default options), and prints what it
found as one JSON object: per file its rows and each column's dtype, and the values a test compares with DuckDB's.

Written apart from the exporter: it knows the file names and a few column names, nothing of how they were written."""
import json
import os
import sys

import pandas as pd

directory = sys.argv[1]
tables = {}
for name in sorted(os.listdir(directory)):
    if not name.endswith('.parquet'):
        continue
    frame = pd.read_parquet(os.path.join(directory, name))
    tables[name[: -len('.parquet')]] = {'rows': len(frame), 'dtypes': {c: str(t) for c, t in frame.dtypes.items()}}

runs = pd.read_parquet(os.path.join(directory, 'runs.parquet'))
verdicts = pd.read_parquet(os.path.join(directory, 'verdicts.parquet'))
observations = pd.read_parquet(os.path.join(directory, 'observations.parquet'))
parity = pd.read_parquet(os.path.join(directory, 'packet_parity.parquet'))
payloads = observations['payload'].dropna()
print(json.dumps({
    'pandas': pd.__version__,
    'tables': tables,
    'sent': json.loads(runs['stats'].iloc[0])['sent'],
    'findings_is_list': isinstance(json.loads(verdicts['findings'].iloc[0]), list),
    'payloads': int(len(payloads)),
    'payloads_are_bytes': bool(all(isinstance(p, bytes) for p in payloads)),
    # Hashes as integers: a float64 column would round those above 2**53.
    'ack_hashes': sorted({int(h) for h in parity['ack_hash'].dropna()}),
}))
