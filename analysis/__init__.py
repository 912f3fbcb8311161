"""Customer segmentation: transactions in, a versioned bundle out."""
