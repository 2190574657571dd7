#!/usr/bin/env python3
"""The embeddable library must not link MPI: reads `swift package describe --type json`
on stdin and fails when the library product's targets reach MPI's (only the CLI may)."""
import json
import sys

package = json.load(sys.stdin)
targets = {target["name"]: target for target in package["targets"]}
product = next(p for p in package["products"] if p["name"] == "Unlocked")
reached, stack = set(), list(product["targets"])
while stack:
    name = stack.pop()
    if name not in reached:
        reached.add(name)
        stack += targets[name].get("target_dependencies", [])
mpi = reached & {"CMPI", "UnlockedMPI", "UnlockedCluster"}
print("library product Unlocked: targets", ", ".join(sorted(reached)))
if mpi:
    sys.exit("library product Unlocked reaches %s: only the CLI may link MPI" % ", ".join(sorted(mpi)))
cli = targets["UnlockedCLI"].get("target_dependencies", [])
if "UnlockedCluster" not in cli:
    sys.exit("the CLI does not depend on UnlockedCluster: nothing runs across ranks")
