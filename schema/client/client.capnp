# schema/client/client.capnp — the per-client AOI snapshot (server -> client), see view.h for the
# delta rules. Signed differences are zigzag-encoded into unsigned fields so that small values of
# either sign are small numbers, which packed encoding shrinks to one or two bytes.
@0xfdc04556934382e4;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::view::wire");

struct EntityKey {
  kind @0 :UInt8;
  region @1 :UInt16;
  id @2 :UInt32;
}

struct EntityDelta {
  kind @0 :UInt8;
  fresh @1 :Bool;
  region @2 :UInt16;
  id @3 :UInt32;
  x @4 :UInt32;       # zigzag
  y @5 :UInt32;       # zigzag
  vx @6 :UInt32;      # zigzag
  vy @7 :UInt32;      # zigzag
  facing @8 :UInt8;
  health @9 :UInt32;  # zigzag
}

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

struct CellUpdate {
  x @0 :Int32;
  y @1 :Int32;
  layer @2 :UInt8;
  kind @3 :UInt8;
  state @4 :UInt8;
}

struct ClientSnapshot {
  tick @0 :UInt64;
  baselineTick @1 :UInt64;
  aoiChecksum @2 :UInt64;
  worldQuickHash @3 :UInt64;
  lastInputSeq @4 :UInt32;
  viewer @5 :UInt32;
  entitiesRetired @6 :List(EntityDelta);  # replaced by entityRecords; always empty
  removed @7 :List(EntityKey);
  chunks @8 :List(Chunk);
  droppedChunks @9 :List(ChunkCoord);
  cells @10 :List(CellUpdate);
  viewerHeading @11 :UInt8;
  viewerMode @12 :UInt8;
  viewerStamina @13 :UInt16;
  # The entity deltas, in key order, as compact records (a struct per delta cost 4 words, about
  # 11 bytes packed; a record of a turning entity is about 5). Each record:
  #   flags  u8: bits 0-1 kind, bit 2 fresh, bit 3 absolute key, bit 4 position (x, y),
  #              bit 5 velocity (vx, vy), bit 6 facing, bit 7 health
  #   key    absolute: region, id (varints); else id - previous id (varint >= 1), with the kind and
  #          region of the previous record (only when they are the same)
  #   then the fields the flags name: x, y, vx, vy, health as zigzag varints, facing as one byte.
  # Varints are LEB128, at most 5 bytes, at most 2^32-1. A field whose flag is clear is zero.
  entityRecords @14 :Data;
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
