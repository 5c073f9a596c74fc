# schema/log.capnp — the session log (replay/): its header, one record per tick, and the entries of
# the portable export file. Records embed TickInput from commands.capnp so a logged input is
# exactly the wire input; snapshots are embedded as the bytes of schema::encode_snapshot.
@0xf8406c5912276d91;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::schema::wire");

using Commands = import "commands.capnp";
using Snapshot = import "snapshot.capnp";

struct LogHeader {
  magic @0 :UInt64;              # schema::log_magic ("STRATALG")
  formatVersion @1 :UInt32;      # schema::log_format_version
  rulesVersion @2 :UInt32;       # sim::rules_version of the recording build
  schemaVersion @3 :UInt32;      # schema::schema_version of the recording build
  params @4 :Snapshot.WorldParams;  # world seed and parameters (params.region is the region)
  startTick @5 :UInt64;          # the world's tick before the first record
  startSnapshotTick @6 :UInt64;  # the snapshot the log starts from (== startTick)
  fullHashEvery @7 :UInt32;      # N: full hash on tick 1, every N ticks and at every snapshot
  snapshotEvery @8 :UInt32;      # K: a snapshot every K ticks
}

struct TickRecord {
  input @0 :Commands.TickInput;  # input.tick is the record's tick
  quickHash @1 :UInt64;          # after the step
  fullHash @2 :UInt64;           # valid when hasFullHash
  hasFullHash @3 :Bool;
}

# One frame of the export file (replay/export_file.h has the framing).
struct ExportEntry {
  union {
    header @0 :LogHeader;
    snapshot @1 :Data;           # schema::encode_snapshot bytes
    tick @2 :TickRecord;
    end :group {                 # last frame: a file without it was cut short
      tickCount @3 :UInt64;
      snapshotCount @4 :UInt64;
      lastTick @5 :UInt64;
    }
    section :group {             # desync bundles: the frames that follow belong to this side
      side @6 :UInt8;            # 0: first log, 1: second log
      divergentTick @7 :UInt64;
    }
  }
}
