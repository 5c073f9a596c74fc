# schema/snapshot.capnp — a world snapshot: a small header that can be checked without touching the
# state (versions, tick, full hash, world parameters), then the state itself as the canonical bytes
# of sim::encode_state. The canonical walk is the single definition of what state is, so the
# snapshot carries its bytes verbatim instead of re-describing every field here. Written with
# capnp's packed encoding (the map's long zero runs are what it compresses).
@0xc98b9fafd1c45699;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::schema::wire");

struct WorldParams {
  seed @0 :UInt64;
  chunksX @1 :Int32;
  chunksY @2 :Int32;
  randomTicksPerChunk @3 :UInt32;
  npcCount @4 :UInt32;
  region @5 :UInt16;
  rules @6 :UInt32;
  # Who runs each chunk's random ticks and NPCs (sim/regions.h): mode 0 = this region owns every
  # chunk (no rectangles, fallback 0), 1 = by the rectangles, else regionFallback (0: no region).
  regionMode @7 :UInt8;
  regionFallback @8 :UInt16;
  regionRects @9 :List(RegionRect);
}

# A rectangle of chunks [x, x + w) x [y, y + h) owned by `region`.
struct RegionRect {
  x @0 :Int32;
  y @1 :Int32;
  w @2 :Int32;
  h @3 :Int32;
  region @4 :UInt16;
}

struct SnapshotHeader {
  magic @0 :UInt64;            # schema::snapshot_magic ("STRATASN")
  formatVersion @1 :UInt32;    # schema::snapshot_format_version
  rulesVersion @2 :UInt32;     # sim::rules_version of the build that stepped the world
  stateFormatVersion @3 :UInt32;  # sim::state_format_version of the state bytes
  tick @4 :UInt64;
  fullHash @5 :UInt64;         # sim::full_hash of the world; checked again after decoding
  params @6 :WorldParams;
}

struct Snapshot {
  header @0 :SnapshotHeader;
  state @1 :Data;              # sim::encode_state bytes
}
