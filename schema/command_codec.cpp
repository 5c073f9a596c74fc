// schema/command_codec.cpp — commands and tick inputs <-> packed Cap'n Proto (commands.capnp).
// Every field of every union member is copied both ways; enum values are range-checked per policy.
#include <type_traits>

#include "schema/codec.h"
#include "schema/commands.capnp.h"
#include "schema/limits.h"
#include "schema/packed_io.h"
#include "schema/wire_detail.h"

namespace strata::schema {
namespace {

using sim::to_underlying;

// The wire enums are the sim enums, value for value.
static_assert(static_cast<uint16_t>(wire::Direction::NW) == to_underlying(sim::Direction::nw));
static_assert(static_cast<uint16_t>(wire::Direction::NW) + 1 == to_underlying(sim::Direction::count));
static_assert(static_cast<uint16_t>(wire::Direction::N) == to_underlying(sim::Direction::n));
static_assert(static_cast<uint16_t>(wire::Direction::S) == to_underlying(sim::Direction::s));
static_assert(static_cast<uint16_t>(wire::MoveMode::RUN) + 1 == to_underlying(sim::MoveMode::count));
static_assert(static_cast<uint16_t>(wire::MoveMode::RUN) == to_underlying(sim::MoveMode::run));
static_assert(static_cast<uint16_t>(wire::Layer::CEILING) + 1 == to_underlying(sim::Layer::count));
static_assert(static_cast<uint16_t>(wire::Layer::ACTIVE) == to_underlying(sim::Layer::active));
static_assert(sim::command_kind_count == 10, "a new command kind needs a union member in commands.capnp");
static_assert(sim::item_count == 7 && sim::Item::produce == static_cast<sim::Item>(6),
              "the join group has one save field per item, in sim::Item order");
static_assert(wire::Command::_capnpPrivate::pointerCount == 0, "a Command must stay one flat struct");
static_assert(wire::Command::_capnpPrivate::dataWordSize <= limits::command_words_max);
static_assert(wire::TickInput::_capnpPrivate::dataWordSize == 1 && wire::TickInput::_capnpPrivate::pointerCount == 1,
              "tick_input_words_max assumes this layout");

// --- encoding ---------------------------------------------------------------------------------

template <class E>
auto wire_enum(E value) {
  if constexpr (std::is_same_v<E, sim::Direction>) return static_cast<wire::Direction>(to_underlying(value));
  if constexpr (std::is_same_v<E, sim::MoveMode>) return static_cast<wire::MoveMode>(to_underlying(value));
  if constexpr (std::is_same_v<E, sim::Layer>) return static_cast<wire::Layer>(to_underlying(value));
}

void set_join(const sim::JoinCommand& c, wire::Command::Join::Builder g) {
  g.setPlayer(sim::raw(c.player));
  if (!c.save.has_value()) return;
  const sim::PlayerSave& save = *c.save;
  g.setHasSave(true);
  g.setSavePosX(save.pos.x.raw());
  g.setSavePosY(save.pos.y.raw());
  g.setSaveFacing(wire_enum(save.facing));
  g.setSaveStamina(save.stamina);
  g.setSaveHealth(save.health);
  auto item = [&](sim::Item i) { return save.inventory[static_cast<size_t>(i)]; };
  g.setSaveWood(item(sim::Item::wood));
  g.setSaveStone(item(sim::Item::stone));
  g.setSaveDoorKit(item(sim::Item::door_kit));
  g.setSaveChestKit(item(sim::Item::chest_kit));
  g.setSaveSeeds(item(sim::Item::seeds));
  g.setSaveThatch(item(sim::Item::thatch));
  g.setSaveProduce(item(sim::Item::produce));
}

template <class G>
void set_cell_stamp(G group, sim::CellPos cell, sim::LwwStamp stamp) {
  group.setCellX(cell.x);
  group.setCellY(cell.y);
  group.setStampHlc(stamp.hlc);
  group.setStampRegion(sim::raw(stamp.region));
}

}  // namespace

void detail::command_to_wire(const sim::Command& command, wire::Command::Builder out) {
  if (const auto* c = std::get_if<sim::JoinCommand>(&command)) {
    set_join(*c, out.initJoin());
  } else if (const auto* c = std::get_if<sim::LeaveCommand>(&command)) {
    out.initLeave().setPlayer(sim::raw(c->player));
  } else if (const auto* c = std::get_if<sim::MoveCommand>(&command)) {
    auto g = out.initMove();
    g.setPlayer(sim::raw(c->player));
    g.setSeq(c->seq);
    g.setDirection(wire_enum(c->direction));
    g.setMode(wire_enum(c->mode));
  } else if (const auto* c = std::get_if<sim::PlaceCommand>(&command)) {
    auto g = out.initPlace();
    g.setPlayer(sim::raw(c->player));
    g.setSeq(c->seq);
    g.setLayer(wire_enum(c->layer));
    g.setKind(c->kind);
    set_cell_stamp(g, c->cell, c->stamp);
  } else if (const auto* c = std::get_if<sim::BreakCommand>(&command)) {
    auto g = out.initBreakBlock();
    g.setPlayer(sim::raw(c->player));
    g.setSeq(c->seq);
    g.setLayer(wire_enum(c->layer));
    set_cell_stamp(g, c->cell, c->stamp);
  } else if (const auto* c = std::get_if<sim::InteractCommand>(&command)) {
    auto g = out.initInteract();
    g.setPlayer(sim::raw(c->player));
    g.setSeq(c->seq);
    set_cell_stamp(g, c->cell, c->stamp);
  } else if (const auto* c = std::get_if<sim::RemoteBlockWriteCommand>(&command)) {
    auto g = out.initRemoteBlockWrite();
    g.setLayer(wire_enum(c->layer));
    g.setKind(c->kind);
    g.setState(c->state);
    set_cell_stamp(g, c->cell, c->stamp);
  } else if (const auto* c = std::get_if<sim::RemotePresenceCommand>(&command)) {
    auto g = out.initRemotePresence();
    g.setOrigin(sim::raw(c->origin));
    g.setPlayer(sim::raw(c->player));
    g.setPosX(c->pos.x.raw());
    g.setPosY(c->pos.y.raw());
    g.setFacing(wire_enum(c->facing));
  } else if (const auto* c = std::get_if<sim::RemoteBatchCommand>(&command)) {
    auto g = out.initRemoteBatch();
    g.setOrigin(sim::raw(c->origin));
    g.setStreamSeq(c->stream_seq);
  } else {
    const auto& n = std::get<sim::RemoteNpcCommand>(command);
    auto g = out.initRemoteNpc();
    g.setOrigin(sim::raw(n.origin));
    g.setNpc(sim::raw(n.npc));
    g.setPosX(n.pos.x.raw());
    g.setPosY(n.pos.y.raw());
    g.setFacing(wire_enum(n.facing));
  }
}

namespace {

// --- decoding ---------------------------------------------------------------------------------

// Reads one command; on failure sets code/error and returns false.
class CommandReader {
 public:
  explicit CommandReader(EnumPolicy policy) : policy_(policy) {}
  DecodeError code = DecodeError::none;
  std::string error;

  bool read(wire::Command::Reader in, sim::Command& out) {
    switch (in.which()) {
      case wire::Command::JOIN: return read_join(in.getJoin(), out);
      case wire::Command::LEAVE: out = sim::LeaveCommand{sim::PlayerId{in.getLeave().getPlayer()}}; return true;
      case wire::Command::MOVE: return read_move(in.getMove(), out);
      case wire::Command::PLACE: return read_place(in.getPlace(), out);
      case wire::Command::BREAK_BLOCK: return read_break(in.getBreakBlock(), out);
      case wire::Command::INTERACT: {
        auto g = in.getInteract();
        sim::InteractCommand c;
        c.player = sim::PlayerId{g.getPlayer()};
        c.seq = g.getSeq();
        c.cell = cell_of(g);
        c.stamp = stamp_of(g);
        out = c;
        return true;
      }
      case wire::Command::REMOTE_BLOCK_WRITE: return read_remote_write(in.getRemoteBlockWrite(), out);
      case wire::Command::REMOTE_PRESENCE: return read_presence(in.getRemotePresence(), out);
      case wire::Command::REMOTE_BATCH: {
        auto g = in.getRemoteBatch();
        out = sim::RemoteBatchCommand{sim::RegionId{g.getOrigin()}, g.getStreamSeq()};
        return true;
      }
      case wire::Command::REMOTE_NPC: return read_remote_npc(in.getRemoteNpc(), out);
    }
    return fail(DecodeError::unknown_command,
                "unknown command kind " + std::to_string(static_cast<unsigned>(in.which())));
  }

 private:
  template <class G>
  static sim::CellPos cell_of(G g) {
    return sim::CellPos{g.getCellX(), g.getCellY()};
  }
  template <class G>
  static sim::LwwStamp stamp_of(G g) {
    return sim::LwwStamp{g.getStampHlc(), sim::RegionId{g.getStampRegion()}};
  }
  bool fail(DecodeError c, std::string what) {
    code = c;
    error = std::move(what);
    return false;
  }
  // Range check of one enum per policy: strict wants a sim enumerator, as_recorded any value of
  // the sim enum's width (the rules refuse it and count the refusal).
  template <class E, class W>
  bool enum_field(const char* field, W wire_value, E& out) {
    const auto value = static_cast<uint16_t>(wire_value);
    const uint16_t bound = policy_ == EnumPolicy::strict ? uint16_t{to_underlying(E::count)} : uint16_t{256};
    if (value >= bound) {
      return fail(DecodeError::bad_enum, std::string(field) + " = " + std::to_string(value) + " out of range");
    }
    out = static_cast<E>(value);
    return true;
  }
  // Without hasSave the save fields must be zero: one command has one encoding, and a log whose
  // join claims no save while carrying one is damaged.
  bool read_join(wire::Command::Join::Reader g, sim::Command& out) {
    sim::JoinCommand c;
    c.player = sim::PlayerId{g.getPlayer()};
    sim::PlayerSave save;
    save.pos = sim::Vec2{sim::Fixed::from_raw(g.getSavePosX()), sim::Fixed::from_raw(g.getSavePosY())};
    if (!enum_field("join.save_facing", g.getSaveFacing(), save.facing)) return false;
    save.stamina = g.getSaveStamina();
    save.health = g.getSaveHealth();
    auto item = [&](sim::Item i) -> uint16_t& { return save.inventory[static_cast<size_t>(i)]; };
    item(sim::Item::wood) = g.getSaveWood();
    item(sim::Item::stone) = g.getSaveStone();
    item(sim::Item::door_kit) = g.getSaveDoorKit();
    item(sim::Item::chest_kit) = g.getSaveChestKit();
    item(sim::Item::seeds) = g.getSaveSeeds();
    item(sim::Item::thatch) = g.getSaveThatch();
    item(sim::Item::produce) = g.getSaveProduce();
    if (g.getHasSave()) {
      c.save = save;
    } else if (!(save == sim::PlayerSave{sim::Vec2{}, sim::Direction::none, 0, 0, {}})) {
      return fail(DecodeError::malformed, "join without a save carries save fields");
    }
    out = c;
    return true;
  }
  bool read_move(wire::Command::Move::Reader g, sim::Command& out) {
    sim::MoveCommand c;
    c.player = sim::PlayerId{g.getPlayer()};
    c.seq = g.getSeq();
    if (!enum_field("move.direction", g.getDirection(), c.direction)) return false;
    if (!enum_field("move.mode", g.getMode(), c.mode)) return false;
    out = c;
    return true;
  }
  bool read_place(wire::Command::Place::Reader g, sim::Command& out) {
    sim::PlaceCommand c;
    c.player = sim::PlayerId{g.getPlayer()};
    c.seq = g.getSeq();
    c.cell = cell_of(g);
    if (!enum_field("place.layer", g.getLayer(), c.layer)) return false;
    c.kind = g.getKind();
    c.stamp = stamp_of(g);
    out = c;
    return true;
  }
  bool read_break(wire::Command::BreakBlock::Reader g, sim::Command& out) {
    sim::BreakCommand c;
    c.player = sim::PlayerId{g.getPlayer()};
    c.seq = g.getSeq();
    c.cell = cell_of(g);
    if (!enum_field("break.layer", g.getLayer(), c.layer)) return false;
    c.stamp = stamp_of(g);
    out = c;
    return true;
  }
  bool read_remote_write(wire::Command::RemoteBlockWrite::Reader g, sim::Command& out) {
    sim::RemoteBlockWriteCommand c;
    c.cell = cell_of(g);
    if (!enum_field("remote_block_write.layer", g.getLayer(), c.layer)) return false;
    c.kind = g.getKind();
    c.state = g.getState();
    c.stamp = stamp_of(g);
    out = c;
    return true;
  }
  bool read_presence(wire::Command::RemotePresence::Reader g, sim::Command& out) {
    sim::RemotePresenceCommand c;
    c.origin = sim::RegionId{g.getOrigin()};
    c.player = sim::PlayerId{g.getPlayer()};
    c.pos = sim::Vec2{sim::Fixed::from_raw(g.getPosX()), sim::Fixed::from_raw(g.getPosY())};
    if (!enum_field("remote_presence.facing", g.getFacing(), c.facing)) return false;
    out = c;
    return true;
  }

  bool read_remote_npc(wire::Command::RemoteNpc::Reader g, sim::Command& out) {
    sim::RemoteNpcCommand c;
    c.origin = sim::RegionId{g.getOrigin()};
    c.npc = sim::NpcId{g.getNpc()};
    c.pos = sim::Vec2{sim::Fixed::from_raw(g.getPosX()), sim::Fixed::from_raw(g.getPosY())};
    if (!enum_field("remote_npc.facing", g.getFacing(), c.facing)) return false;
    out = c;
    return true;
  }

  EnumPolicy policy_;
};

using detail::refused;

template <class T>
DecodeResult<T> counted(DecodeResult<T> result, DecodeStats* stats) {
  if (stats != nullptr) stats->count(result.code);
  return result;
}

}  // namespace

std::vector<uint8_t> encode_command(const sim::Command& command) {
  capnp::MallocMessageBuilder message(limits::command_message_words_max);
  detail::command_to_wire(command, message.initRoot<wire::Command>());
  std::vector<uint8_t> out;
  detail::write_packed(message, out);
  return out;
}

DecodeResult<sim::Command> decode_command(std::span<const uint8_t> bytes, EnumPolicy policy, DecodeStats* stats) {
  auto result = detail::read_message<sim::Command, wire::Command>(
      bytes, limits::command_message_words_max, limits::command_traversal_words, limits::command_nesting_max,
      [&](wire::Command::Reader root) {
        CommandReader reader(policy);
        sim::Command command;
        if (!reader.read(root, command)) return refused<sim::Command>(reader.code, std::move(reader.error));
        DecodeResult<sim::Command> ok;
        ok.value = command;
        return ok;
      });
  return counted(std::move(result), stats);
}

void encode_tick_input(const sim::TickInput& input, std::vector<uint8_t>& out) {
  out.clear();
  const size_t words = 4 + input.commands.size() * limits::command_words_max;
  capnp::MallocMessageBuilder message(static_cast<unsigned>(words));
  detail::tick_input_to_wire(input, message.initRoot<wire::TickInput>());
  detail::write_packed(message, out);
}

std::vector<uint8_t> encode_tick_input(const sim::TickInput& input) {
  std::vector<uint8_t> out;
  encode_tick_input(input, out);
  return out;
}

DecodeResult<sim::TickInput> decode_tick_input(std::span<const uint8_t> bytes, EnumPolicy policy, DecodeStats* stats) {
  auto result = detail::read_message<sim::TickInput, wire::TickInput>(
      bytes, limits::tick_input_words_max, limits::tick_input_traversal_words, limits::tick_input_nesting_max,
      [&](wire::TickInput::Reader root) { return detail::tick_input_from_wire(root, policy); });
  return counted(std::move(result), stats);
}

void detail::tick_input_to_wire(const sim::TickInput& input, wire::TickInput::Builder out) {
  out.setTick(input.tick);
  auto list = out.initCommands(static_cast<unsigned>(input.commands.size()));
  for (size_t i = 0; i < input.commands.size(); ++i) command_to_wire(input.commands[i], list[static_cast<unsigned>(i)]);
}

DecodeStatus detail::tick_input_into(wire::TickInput::Reader in, EnumPolicy policy, sim::TickInput& out) {
  DecodeStatus status;
  out.tick = in.getTick();
  const auto list = in.getCommands();
  if (list.size() > sim::limits::commands_per_tick_max) {
    status.code = DecodeError::too_many_commands;
    status.error =
        std::to_string(list.size()) + " commands, limit " + std::to_string(sim::limits::commands_per_tick_max);
    return status;
  }
  out.commands.resize(list.size());  // within commands_per_tick_max: checked above
  CommandReader reader(policy);
  for (unsigned i = 0; i < list.size(); ++i) {
    if (!reader.read(list[i], out.commands[i])) {
      status.code = reader.code;
      status.error = "command " + std::to_string(i) + ": " + reader.error;
      return status;
    }
  }
  return status;
}

DecodeResult<sim::TickInput> detail::tick_input_from_wire(wire::TickInput::Reader in, EnumPolicy policy) {
  sim::TickInput input;
  DecodeStatus status = tick_input_into(in, policy, input);
  if (!status.ok()) return refused<sim::TickInput>(status.code, std::move(status.error));
  DecodeResult<sim::TickInput> ok;
  ok.value = std::move(input);
  return ok;
}

std::string_view name(DecodeError error) {
  switch (error) {
    case DecodeError::none: return "none";
    case DecodeError::empty: return "empty";
    case DecodeError::too_large: return "too_large";
    case DecodeError::malformed: return "malformed";
    case DecodeError::unknown_command: return "unknown_command";
    case DecodeError::bad_enum: return "bad_enum";
    case DecodeError::too_many_commands: return "too_many_commands";
    case DecodeError::bad_magic: return "bad_magic";
    case DecodeError::bad_version: return "bad_version";
    case DecodeError::rules_version: return "rules_version";
    case DecodeError::bad_params: return "bad_params";
    case DecodeError::bad_state: return "bad_state";
    case DecodeError::hash_mismatch: return "hash_mismatch";
    case DecodeError::count: break;
  }
  return "invalid";
}

}  // namespace strata::schema
