"""The conformance kit: replay recorded HTTP cassettes against any adapter (work in progress)."""
