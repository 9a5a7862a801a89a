"""The native inference engine (llama.cpp): a portable build, and checks that it runs here."""
