"""What may be said and what was done: the signed constitution, the policy engine that
applies it on input and output, and the hash-chained audit log."""
