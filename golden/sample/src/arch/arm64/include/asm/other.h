/* arm64 only */
