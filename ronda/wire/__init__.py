"""Generated gRPC code for the ronda wire contract. Do not edit: run scripts/gen_proto.py."""
