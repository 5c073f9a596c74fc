# schema/bus.capnp — the payloads of the region event bus (schema/bus_codec.h): one BusMessage per
# NATS message on events.<region>.world, .presence or .health. The body of a payload is this
# message, packed (after the frame byte; zstd-compressed when the frame byte says so), so any
# reader with this file decodes it:
#   capnp decode --packed -I <repo> <repo>/schema/bus.capnp BusMessage < body
#
# Every Write and Entry is one flat struct (no pointers), so the lists are contiguous composite
# lists that pack well. A write's stamp region is not sent: it is the message's origin (a region
# only publishes its own writes), which the decoder puts back.
@0xddc8b5de91ceb15a;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::schema::wire");

using Commands = import "commands.capnp";

# One stamped block write of the origin region (sim::BlockWrite).
struct Write {
  cellX @0 :Int32;
  cellY @1 :Int32;
  layer @2 :Commands.Layer;
  kind @3 :UInt8;
  state @4 :UInt8;
  stampHlc @5 :UInt64;  # never 0: the zero stamp means "generated with the map"
}

# Where one player (npc = false) or NPC of the origin region was.
struct PresenceEntry {
  npc @0 :Bool;
  id @1 :UInt32;     # PlayerId or NpcId
  posX @2 :Int32;    # fixed point, 1/256 tile (sim::Vec2 raw)
  posY @3 :Int32;
  facing @4 :Commands.Direction;
}

# The last stream sequence of one origin's world batches a region's map holds.
struct AppliedSeq {
  origin @0 :UInt16;
  seq @1 :UInt64;
}

struct BusMessage {
  origin @0 :UInt16;  # the publishing region: must be the subject's
  tick @1 :UInt64;    # the origin's tick
  union {
    # The origin's local writes of its ticks after its previous world message, through `tick`
    # (one tick when it keeps up; several merged when it catches up), part `part` of `parts`
    # (a tick above the per-message limit is sent alone, split).
    world :group {
      part @2 :UInt32;
      parts @3 :UInt32;
      writes @4 :List(Write);
    }
    # The origin's players by id, then the NPCs it runs by id.
    presence :group {
      entries @5 :List(PresenceEntry);
    }
    # The origin's applied-sequence vector (sorted by origin) and its map hash after `tick`.
    health :group {
      applied @6 :List(AppliedSeq);
      mapHash @7 :UInt64;
    }
  }
}
