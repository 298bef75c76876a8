"""Time-to-train benchmarking: MLPerf logging, compliance rules, scoring, hardware inventory."""
