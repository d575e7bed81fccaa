"""What every task shares: the task base class, run folders, results, callbacks, embedded data sets."""
