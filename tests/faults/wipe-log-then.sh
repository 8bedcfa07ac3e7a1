#!/bin/sh
# Canary for the disk nemeses (tests/faults/README.md): a "server" whose recovery
# throws its txn log away. Usage: wipe-log-then.sh DIR COMMAND...; removes the log
# segments under DIR (a harness server directory: data/, data/version-2/, log/) and
# then runs COMMAND. It starts happily on a corrupted log and loses every write
# since its last snapshot: the `corrupt` nemesis and the checkers must say so.
set -eu
dir=$1
shift
rm -f "$dir"/data/log.* "$dir"/data/version-2/log.* "$dir"/log/log.*
exec "$@"
