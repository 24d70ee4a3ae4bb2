"""The dashboard's reads: a merchant's payments searched and paged, their totals, and one payment's whole story."""
