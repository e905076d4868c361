"""Extensions: run lock, run summary, exit code."""
