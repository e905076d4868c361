"""A local replica of bbs.51credit.com and Sina Finance, with their markup, encodings and defences."""
