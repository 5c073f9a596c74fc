# schema/commands.capnp — the commands of a tick (sim/command.h) and a tick's ordered inputs, as
# they travel from clients (one Command) and as the session log records them (TickInput).
#
# Every command is a group inside one union, so a Command is one fixed-size struct (no pointers):
# a TickInput's list of commands is one contiguous composite list that packs well. Enum values are
# the sim's enumerators in the same order (checked by static_asserts in schema/command_codec.cpp).
# Unknown enum values are representable on purpose: the log must carry hostile commands exactly as
# they were applied (the rules reject them with bad_enum), while the network edge refuses them.
@0xc95f9cf1b458c873;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::schema::wire");

enum Direction { none @0; n @1; ne @2; e @3; se @4; s @5; sw @6; w @7; nw @8; }
enum MoveMode { walk @0; run @1; }
enum Layer { floor @0; active @1; ceiling @2; }

struct Command {
  union {
    join :group {
      player @0 :UInt32;
      # The player's save (sim::PlayerSave), when it has one: carried in the log so that a replay
      # needs no store. The inventory is one field per item (sim::Item order): a list would be a
      # pointer, and a Command stays one flat struct.
      hasSave @46 :Bool;
      savePosX @47 :Int32;   # fixed point, 1/256 tile
      savePosY @48 :Int32;
      saveFacing @49 :Direction;
      saveStamina @50 :UInt16;
      saveHealth @51 :UInt16;
      saveWood @52 :UInt16;
      saveStone @53 :UInt16;
      saveDoorKit @54 :UInt16;
      saveChestKit @55 :UInt16;
      saveSeeds @56 :UInt16;
      saveThatch @57 :UInt16;
      saveProduce @58 :UInt16;
    }
    leave :group {
      player @1 :UInt32;
    }
    move :group {
      player @2 :UInt32;
      seq @3 :UInt32;
      direction @4 :Direction;
      mode @5 :MoveMode;
    }
    place :group {
      player @6 :UInt32;
      seq @7 :UInt32;
      cellX @8 :Int32;
      cellY @9 :Int32;
      layer @10 :Layer;
      kind @11 :UInt8;
      stampHlc @12 :UInt64;
      stampRegion @13 :UInt16;
    }
    breakBlock :group {
      player @14 :UInt32;
      seq @15 :UInt32;
      cellX @16 :Int32;
      cellY @17 :Int32;
      layer @18 :Layer;
      stampHlc @19 :UInt64;
      stampRegion @20 :UInt16;
    }
    interact :group {
      player @21 :UInt32;
      seq @22 :UInt32;
      cellX @23 :Int32;
      cellY @24 :Int32;
      stampHlc @25 :UInt64;
      stampRegion @26 :UInt16;
    }
    remoteBlockWrite :group {
      cellX @27 :Int32;
      cellY @28 :Int32;
      layer @29 :Layer;
      kind @30 :UInt8;
      state @31 :UInt8;
      stampHlc @32 :UInt64;
      stampRegion @33 :UInt16;
    }
    remotePresence :group {
      origin @34 :UInt16;
      player @35 :UInt32;
      posX @36 :Int32;   # fixed point, 1/256 tile
      posY @37 :Int32;
      facing @38 :Direction;
    }
    remoteBatch :group {
      origin @39 :UInt16;
      streamSeq @40 :UInt64;
    }
    remoteNpc :group {
      origin @41 :UInt16;
      npc @42 :UInt32;
      posX @43 :Int32;   # fixed point, 1/256 tile
      posY @44 :Int32;
      facing @45 :Direction;
    }
  }
}

# All the inputs of one tick, in the order the server fixed.
struct TickInput {
  tick @0 :UInt64;
  commands @1 :List(Command);
}
