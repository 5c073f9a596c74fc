# schema/client/client.capnp — the per-client AOI snapshot (server -> client), see view.h for the
# delta rules — and the other client <-> server messages. Snapshots travel packed (capnp packed
# encoding drops zero bytes); their bulk is byte records, described above ClientSnapshot.
@0xfdc04556934382e4;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::view::wire");

struct Chunk {
  cx @0 :Int32;
  cy @1 :Int32;
  floor @2 :Data;         # 1024 bytes each
  active @3 :Data;
  activeState @4 :Data;
  ceiling @5 :Data;
}

struct ChunkCoord {
  cx @0 :Int32;
  cy @1 :Int32;
}

# A delta snapshot is mostly a few changed entities and cells, so those travel as compact byte
# records (a Cap'n Proto struct per entity cost about 11 packed bytes, a record of an entity that
# turned costs about 4). Varints are LEB128, at most 5 bytes, at most 2^32-1; "zz" marks a zigzag
# varint (small values of either sign are small).
#
# entityRecords: the entity deltas in key order (view.h, EntityDelta). Each record:
#   flags  u8: bits 0-1 kind, bit 2 fresh, bit 3 absolute key, bit 4 position, bit 5 motion,
#              bit 6 facing, bit 7 health
#   key    absolute: region, id (varints); else id - previous id (varint >= 1), with the kind and
#          region of the previous record (only when they are the same)
#   motion u8: bits 0-4 velocity code: 0 still, 1-24 walk, run and NPC speed in directions n..nw
#              (sim::velocity_for), 31 explicit (then vx, vy zz); bit 5 the facing is the code's
#              direction (no facing byte follows); bit 6 a turn follows (varint >= 1, not fresh);
#              bit 7 zero
#   then   position x, y (zz); facing (u8); health (varint), as flagged.
# Fresh records carry the whole state, a clear flag meaning zero; other records carry the new
# values of the flagged fields (the position as a correction to the dead-reckoned one).
#
# removedRecords: the keys of entities that left the view, in key order: a byte (bits 0-1 kind,
# bit 2 absolute key, other bits zero), then the key as in entityRecords.
#
# cellRecords: changed cells in (x, y, layer) order: varint (x - previous x) << 2 | layer,
# zz (y - previous y) (the first cell's previous is (0, 0)), kind u8, and state u8 for the
# active layer only.
struct ClientSnapshot {
  tick @0 :UInt64;
  aoiChecksum @1 :UInt64;
  worldQuickHash @2 :UInt64;
  lastInputSeq @3 :UInt32;
  viewer @4 :UInt32;
  baselineAge @5 :UInt16;     # tick - baseline tick; 0: a full snapshot
  viewerStamina @6 :UInt16;
  viewerHeading @7 :UInt8;
  viewerMode @8 :UInt8;
  entityRecords @9 :Data;
  removedRecords @10 :Data;
  cellRecords @11 :Data;
  chunks @12 :List(Chunk);
  droppedChunks @13 :List(ChunkCoord);
}

# Server -> client, reliable, once after connecting.
struct Welcome {
  player @0 :UInt32;
  tick @1 :UInt64;         # the server's current tick
  tickRateHz @2 :UInt32;
  region @3 :UInt16;
  seed @4 :UInt64;
  chunksX @5 :Int32;
  chunksY @6 :Int32;
}

# Client -> server, unreliable: every input not yet processed (snapshot.lastInputSeq tells which
# were), oldest first, so a lost packet costs nothing as long as a later one arrives.
struct InputEntry {
  seq @0 :UInt32;
  tick @1 :UInt64;         # the tick the client wants it applied in
  command @2 :Data;        # schema/commands.capnp Command (schema::encode_command)
}
struct InputBatch {
  entries @0 :List(InputEntry);
}

# Client -> server, unreliable: the newest snapshot it reconstructed (the next delta's baseline).
struct SnapshotAck {
  tick @0 :UInt64;
}

# Client -> server, reliable: its reconstruction disagreed with the AOI checksum.
struct ChecksumReport {
  tick @0 :UInt64;
  expected @1 :UInt64;
  actual @2 :UInt64;
}

# Server -> observer, reliable: the world at the observer's start, in parts (a world is larger than
# one netchannel message may be), then every tick's input with the hash the server computed.
struct ObserverSnapshotPart {
  index @0 :UInt32;
  count @1 :UInt32;
  bytes @2 :Data;         # a slice of schema::encode_snapshot(world)
}
struct ObserverTick {
  tick @0 :UInt64;
  input @1 :Data;         # schema::encode_tick_input
  quickHash @2 :UInt64;   # sim quick hash after the step
}

# Client -> server, reliable: a line of chat (UTF-8, no control characters, at most
# chat_text_bytes_max bytes). Not part of the simulation: never logged, never replayed.
struct ChatSend {
  text @0 :Text;
}

# Server -> client, reliable: a line said by a player within the hearer's area of interest.
struct ChatLine {
  from @0 :UInt32;        # the speaker's player id
  tick @1 :UInt64;        # the tick it was relayed at
  text @2 :Text;
}
