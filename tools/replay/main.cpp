// strata-replay — inspect, verify, replay and convert session logs (a RocksDB directory or an export
// file; every subcommand takes either).
//   info LOG                      header, tick range, snapshot ticks, size
//   verify LOG [--from T --to T] [--jobs N] [--no-prefetch]  replay and check every recorded hash
//                                 (progress bar on a terminal; --jobs (default: the cores) verifies
//                                 the segments between snapshots concurrently; one job decodes ahead
//                                 on a second thread)
//   hashes LOG [--out FILE]       the replayed hash stream, "tick quick [full]" (strata-scenario's format)
//   state LOG --tick T [--field PATH] [--full]   the world at T as JSON, or the fields under PATH
//   export LOG FILE / import FILE DIR
//   sync-test LOG [--rollback M]  roll back M ticks every tick and re-simulate
//   heavy LOG                     snapshot, restore and continue every tick
//   seek LOG [--samples N]        time rebuilding the world at random ticks
//   saves LOG... [--players FILE] [--events FILE]  replay logs in the order they ran: every returning player's join
//                                 must carry the state of its last leave (the leave's state is the
//                                 step's Effects::left_saves); --players: each player's last leave;
//                                 --events: every applied join and leave
//   record DIR --seed --players --ticks ...   record a seeded scenario (golden logs, benchmarks)
// Exit codes: 0 ok, 1 usage, 2 not found, 3 damaged, 4 rules version not implemented,
// 5 unsupported version, 6 hash mismatch, 7 I/O error, 8 invalid argument, 9 (saves) a return did
// not bring back the state of its leave.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "replay/export_file.h"
#include "replay/replayer.h"
#include "tools/replay/player_saves.h"
#include "tools/replay/world_json.h"
#include "tools/scenario/scenario.h"

namespace {

using namespace strata;

// Restoring a world allocates and frees a few blocks of the map's size (9 MB for 16x16 chunks):
// the unpacked snapshot, the decoded map, a generated one. glibc serves blocks that large with
// fresh mmaps and returns them on free, so every restore paid ~2k page faults per block (costly in
// a VM). Keeping freed memory for reuse halved the time of a seek in a 1-hour 1000-player log
// (mean 150 -> 60 ms); the peak is unchanged (it is what is live at once).
void keep_freed_memory() {
#if defined(__GLIBC__)
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's maximum: blocks up to 32 MB from the heap
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);  // and up to 256 MB of freed heap kept
#endif
}

int fail(const replay::Status& status, const std::string& what) {
  std::fprintf(stderr, "strata-replay: %s: %s\n", what.c_str(), status.describe().c_str());
  return replay::exit_code(status.code);
}

std::unique_ptr<replay::LogSource> open_or_report(const std::string& path, int& exit_code) {
  replay::Status status;
  auto log = replay::open_log(path, status);
  if (!log) exit_code = fail(status, path);
  return log;
}

int info(const std::string& path) {
  int code = 0;
  auto log = open_or_report(path, code);
  if (!log) return code;
  const auto& h = log->header();
  std::printf("log            %s (%s, %" PRIu64 " bytes)\n", path.c_str(), log->kind().c_str(), log->size_bytes());
  std::printf("format         %u, rules %u, schema %u\n", h.format_version, h.rules_version, h.schema_version);
  std::printf("world          seed %" PRIu64 ", %dx%d chunks, %u random ticks/chunk, %u npcs, region %u\n",
              h.params.seed, h.params.chunks_x, h.params.chunks_y, h.params.random_ticks_per_chunk, h.params.npc_count,
              static_cast<unsigned>(sim::raw(h.params.region)));
  std::printf("ticks          %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records)\n", h.start_tick, log->last_tick(),
              log->last_tick() - h.start_tick);
  std::printf("full hash      tick 1, every %u ticks and at snapshots\n", h.full_hash_every);
  std::printf("snapshots      every %u ticks:", h.snapshot_every);
  for (uint64_t t : log->snapshot_ticks()) std::printf(" %" PRIu64, t);
  std::printf("\n");
  return 0;
}

// Progress on a terminal only (never in pipes or logs).
class Progress {
 public:
  Progress(uint64_t first, uint64_t last) : first_(first), last_(last), enabled_(isatty(STDERR_FILENO) != 0) {}
  void update(uint64_t tick) {
    if (!enabled_ || (tick % 256 != 0 && tick != last_)) return;
    const uint64_t total = last_ > first_ ? last_ - first_ : 1;
    const int width = 40;
    const int filled = static_cast<int>((tick - first_) * width / total);
    std::fprintf(stderr, "\r[%.*s%*s] tick %" PRIu64 "/%" PRIu64, filled, "########################################",
                 width - filled, "", tick, last_);
  }
  ~Progress() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  uint64_t first_;
  uint64_t last_;
  bool enabled_;
};

int run_replay(const std::string& path, replay::ReplayOptions options, const char* mode_name, bool quiet,
               uint32_t jobs = 1) {
  int code = 0;
  auto log = open_or_report(path, code);
  if (!log) return code;
  const uint64_t last = std::min(options.to_tick, log->last_tick());
  replay::ReplayResult result;
  const auto start = std::chrono::steady_clock::now();
  {
    Progress progress(replay::snapshot_at_or_before(*log, options.from_tick), last);
    uint64_t done = replay::snapshot_at_or_before(*log, options.from_tick);
    options.on_tick = [&](uint64_t, uint64_t, std::optional<uint64_t>) { progress.update(++done); };
    result = replay::verify_parallel(*log, options, jobs);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.status.ok()) return fail(result.status, std::string(mode_name) + " " + path);
  if (!quiet) {
    std::printf("%s ok: ticks %" PRIu64 "..%" PRIu64 " (%" PRIu64 " replayed from the snapshot at %" PRIu64
                "), %.3f s, %.0f ticks/s\n",
                mode_name, result.start_tick + 1, result.last_tick, result.ticks_replayed, result.start_tick, seconds,
                seconds > 0 ? static_cast<double>(result.ticks_replayed) / seconds : 0.0);
  }
  return 0;
}

int hashes(const std::string& path, const std::string& out_path) {
  int code = 0;
  auto log = open_or_report(path, code);
  if (!log) return code;
  std::FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
  if (out == nullptr) return fail(replay::Status::error(replay::Code::io, "cannot write " + out_path), "hashes");
  replay::ReplayOptions options;
  options.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t> full) {
    if (full) {
      std::fprintf(out, "%" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", tick, quick, *full);
    } else {
      std::fprintf(out, "%" PRIu64 " %016" PRIx64 "\n", tick, quick);
    }
  };
  const auto result = replay::replay(*log, options);
  if (out != stdout) std::fclose(out);
  if (!result.status.ok()) return fail(result.status, "hashes " + path);
  return 0;
}

int state(const std::string& path, uint64_t tick, const std::string& field, bool full) {
  int code = 0;
  auto log = open_or_report(path, code);
  if (!log) return code;
  auto at = replay::state_at(*log, tick);
  if (!at.status.ok()) return fail(at.status, "state " + path);
  if (field.empty()) {
    std::fputs(tools::world_json(at.sim->world(), full ? sim::WalkScope::full : sim::WalkScope::quick).c_str(), stdout);
    return 0;
  }
  const std::string lines = tools::world_fields(at.sim->world(), field);
  if (lines.empty()) {
    return fail(replay::Status::error(replay::Code::invalid_argument, "no field under '" + field + "'"), "state");
  }
  std::fputs(lines.c_str(), stdout);
  return 0;
}

// Times state_at() at `samples` random ticks (seeded): the cost of seeking in this log.
int seek(const std::string& path, uint32_t samples, uint64_t seed) {
  int code = 0;
  auto log = open_or_report(path, code);
  if (!log) return code;
  const uint64_t first = log->header().start_tick;
  const uint64_t span = log->last_tick() - first + 1;
  double total = 0;
  double worst = 0;
  sim::Rng rng = sim::Rng::seeded(seed, 1);
  for (uint32_t i = 0; i < samples; ++i) {
    const uint64_t tick = first + ((uint64_t{rng.next_u32()} << 32U) | rng.next_u32()) % span;
    const auto start = std::chrono::steady_clock::now();
    auto at = replay::state_at(*log, tick);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!at.status.ok()) return fail(at.status, "seek " + path);
    total += ms;
    worst = std::max(worst, ms);
  }
  std::printf(
      "seek: %u random ticks in %" PRIu64 "..%" PRIu64 ", mean %.1f ms, worst %.1f ms (snapshot every %u ticks)\n",
      samples, first, log->last_tick(), samples > 0 ? total / samples : 0.0, worst, log->header().snapshot_every);
  return 0;
}

// Exit code of `saves` when a return did not bring back its leave's state (the replay's own
// failures keep theirs: 2..8).
constexpr int exit_return_mismatch = 9;

// The leaves and returns of players over `paths` (in the order they ran); `players_path`, when
// set, gets each player's last leave, one line per player.
int saves(const std::vector<std::string>& paths, const std::string& players_path, const std::string& events_path) {
  tools::SavesReport report;
  report.keep_events = !events_path.empty();
  for (size_t i = 0; i < paths.size(); ++i) {
    int code = 0;
    auto log = open_or_report(paths[i], code);
    if (!log) return code;
    if (replay::Status s = tools::scan_player_saves(*log, i, report); !s.ok()) return fail(s, "saves " + paths[i]);
  }
  for (const tools::ReturnMismatch& m : report.mismatches) {
    std::printf("mismatch: player %u joined in log %zu at tick %" PRIu64 " with %s; it left in log %zu at tick %" PRIu64
                " with %s\n",
                sim::raw(m.player), m.log, m.tick, m.brought ? tools::describe(*m.brought).c_str() : "no save (fresh)",
                m.left_log, m.left_tick, tools::describe(m.left).c_str());
  }
  const uint64_t returns = report.joins - report.first_joins;
  std::printf("saves: %zu log(s): %" PRIu64 " leaves by %zu players; %" PRIu64 " joins applied (%" PRIu64
              " first joins, %" PRIu64 " of them with a save from before these logs; %" PRIu64
              " joins rejected); %" PRIu64 " returns: %" PRIu64
              " brought their last leave's state exactly, %zu did not; "
              "sim: %" PRIu64 " saves refused, %" PRIu64
              " relocated; %zu players in the world at the end; %zu players "
              "left with other items than they first joined with\n",
              report.logs, report.leaves, report.last.size(), report.joins, report.first_joins,
              report.first_joins_saved, report.joins_rejected, returns, report.returns_matched,
              report.mismatches.size(), report.saves_refused, report.saves_relocated, report.in_world_at_end.size(),
              tools::players_with_changed_items(report));
  if (!players_path.empty()) {
    std::FILE* out = std::fopen(players_path.c_str(), "w");
    if (out == nullptr) return fail(replay::Status::error(replay::Code::io, "cannot write " + players_path), "saves");
    for (const auto& [player, last] : report.last) {
      std::fprintf(out, "player=%u log=%zu tick=%" PRIu64 " in_world=%d returns=%" PRIu64 " %s\n", player, last.log,
                   last.tick, last.in_world ? 1 : 0, last.returns, tools::describe(last.save).c_str());
    }
    if (std::fclose(out) != 0)
      return fail(replay::Status::error(replay::Code::io, "cannot write " + players_path), "saves");
  }
  if (!events_path.empty()) {
    std::FILE* out = std::fopen(events_path.c_str(), "w");
    if (out == nullptr) return fail(replay::Status::error(replay::Code::io, "cannot write " + events_path), "saves");
    for (const tools::SaveEvent& e : report.events) {
      std::fprintf(out, "log=%zu tick=%" PRIu64 " player=%u %s %s\n", e.log, e.tick, sim::raw(e.player),
                   e.leave ? "leave" : "join", e.save ? tools::describe(*e.save).c_str() : "fresh");
    }
    if (std::fclose(out) != 0)
      return fail(replay::Status::error(replay::Code::io, "cannot write " + events_path), "saves");
  }
  return report.mismatches.empty() ? 0 : exit_return_mismatch;
}

struct RecordOptions {
  uint64_t seed = 1;
  uint32_t players = 20;
  uint64_t ticks = 200;
  int32_t chunks = 2;
  uint32_t npcs = 4;
  uint32_t full_every = 20;
  uint32_t snapshot_every = 100;
  uint32_t hostile = 10;
  uint32_t remote_regions = 1;
  uint32_t wal_sync_every = 0;  // 0: never fsync (WAL still written), 1: every tick, N: every N ticks
};

int record(const std::string& dir, const RecordOptions& o) {
  scenario::ScenarioConfig config;
  config.seed = o.seed;
  config.players = o.players;
  config.join_ramp_ticks = static_cast<uint32_t>(std::min<uint64_t>(o.ticks / 10 + 1, 200));
  config.remote_regions = o.remote_regions;
  config.remote_writes_per_tick = o.remote_regions > 0 ? 2 : 0;
  config.remote_presence_per_tick = o.remote_regions > 0 ? 4 : 0;
  config.hostile_per_mille = o.hostile;
  auto sim = std::make_unique<sim::Simulation>(scenario::world_for(o.seed, o.chunks, o.npcs));
  scenario::ScenarioGenerator generator(config);
  replay::LogConfig log_config;
  log_config.full_hash_every = o.full_every;
  log_config.snapshot_every = o.snapshot_every;
  log_config.wal_sync = o.wal_sync_every == 0   ? replay::WalSync::none
                        : o.wal_sync_every == 1 ? replay::WalSync::every_tick
                                                : replay::WalSync::every_n_ticks;
  log_config.sync_every_ticks = o.wal_sync_every;
  replay::Status status;
  auto writer = replay::LogWriter::create(dir, sim->world(), log_config, status);
  if (!writer) return fail(status, "record " + dir);
  sim::TickInput input;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t t = 0; t < o.ticks; ++t) {
    generator.next(sim->world(), input);
    sim->step(input);
    if (status = writer->append(input, *sim); !status.ok()) return fail(status, "record " + dir);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("recorded %" PRIu64 " ticks into %s, final full hash %016" PRIx64 ", %.2f s\n", o.ticks, dir.c_str(),
              sim->full_hash(), seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"strata-replay: inspect, verify, replay and convert Strata session logs"};
  app.require_subcommand(1);
  std::string log_path;
  std::string other_path;
  std::string field;
  uint64_t tick = 0;
  bool full = false;
  bool quiet = false;
  replay::ReplayOptions options;
  RecordOptions rec;

  auto* info_cmd = app.add_subcommand("info", "header, tick range, snapshot ticks, size");
  info_cmd->add_option("log", log_path, "log directory or export file")->required();
  auto* verify_cmd = app.add_subcommand("verify", "replay and check every recorded hash (exit 0 only if all match)");
  verify_cmd->add_option("log", log_path)->required();
  verify_cmd->add_option("--from", options.from_tick, "start at the nearest snapshot at or before this tick");
  verify_cmd->add_option("--to", options.to_tick, "last tick to verify");
  verify_cmd->add_flag("--quiet", quiet, "no summary line");
  // Every core by default, as a build tool would: verification is embarrassingly parallel across
  // snapshots, and the first failing segment (in tick order) is the one reported.
  uint32_t jobs = std::clamp(std::thread::hardware_concurrency(), 1U, 64U);
  verify_cmd->add_option("--jobs", jobs, "threads: segments between snapshots verified concurrently (default: cores)")
      ->check(CLI::Range(1U, 64U));
  bool no_prefetch = false;
  verify_cmd->add_flag("--no-prefetch", no_prefetch,
                       "with one job, read and decode on the replaying thread (no second thread)");
  auto* hashes_cmd = app.add_subcommand("hashes", "print the replayed hash stream (tick quick [full])");
  hashes_cmd->add_option("log", log_path)->required();
  hashes_cmd->add_option("--out", other_path, "write to this file instead of stdout");
  auto* state_cmd = app.add_subcommand("state", "the world at a tick as JSON, or the fields under a path");
  state_cmd->add_option("log", log_path)->required();
  state_cmd->add_option("--tick", tick, "tick")->required();
  state_cmd->add_option("--field", field, "path prefix, e.g. players[3].pos or counters");
  state_cmd->add_flag("--full", full, "include the map");
  auto* export_cmd = app.add_subcommand("export", "write one portable file");
  export_cmd->add_option("log", log_path)->required();
  export_cmd->add_option("file", other_path)->required();
  auto* import_cmd = app.add_subcommand("import", "export file -> new RocksDB log directory");
  import_cmd->add_option("file", log_path)->required();
  import_cmd->add_option("dir", other_path)->required();
  auto* sync_cmd = app.add_subcommand("sync-test", "every tick, roll back M ticks and re-simulate");
  sync_cmd->add_option("log", log_path)->required();
  sync_cmd->add_option("--rollback", options.rollback_ticks, "M")->check(CLI::Range(1U, 64U));
  auto* heavy_cmd = app.add_subcommand("heavy", "snapshot, restore and continue every tick");
  heavy_cmd->add_option("log", log_path)->required();
  uint32_t samples = 20;
  auto* seek_cmd = app.add_subcommand("seek", "time rebuilding the world at random ticks");
  seek_cmd->add_option("log", log_path)->required();
  seek_cmd->add_option("--samples", samples)->check(CLI::Range(1U, 100000U));
  seek_cmd->add_option("--seed", rec.seed);
  std::vector<std::string> save_logs;
  auto* saves_cmd = app.add_subcommand(
      "saves",
      "replay logs (in the order they ran) and check that every returning player's join carried the state of its "
      "last leave (exit 9 when one did not)");
  saves_cmd->add_option("logs", save_logs, "log directories or export files")->required();
  saves_cmd->add_option("--players", other_path, "write each player's last leave to this file (one line each)");
  std::string events_path;
  saves_cmd->add_option("--events", events_path, "write every applied join and leave to this file, in log order");
  auto* record_cmd = app.add_subcommand("record", "record a seeded scenario into a new log directory");
  record_cmd->add_option("dir", other_path)->required();
  record_cmd->add_option("--seed", rec.seed);
  record_cmd->add_option("--players", rec.players)->check(CLI::Range(0U, 16384U));
  record_cmd->add_option("--ticks", rec.ticks);
  record_cmd->add_option("--chunks", rec.chunks)->check(CLI::Range(1, 64));
  record_cmd->add_option("--npcs", rec.npcs)->check(CLI::Range(0U, 16384U));
  record_cmd->add_option("--full-every", rec.full_every)->check(CLI::Range(1U, 1U << 24));
  record_cmd->add_option("--snapshot-every", rec.snapshot_every)->check(CLI::Range(1U, 1U << 24));
  record_cmd->add_option("--hostile", rec.hostile)->check(CLI::Range(0U, 1000U));
  record_cmd->add_option("--remote-regions", rec.remote_regions)->check(CLI::Range(0U, 16U));
  record_cmd->add_option("--wal-sync-every", rec.wal_sync_every,
                         "fsync the WAL every N ticks (0: never, 1: every tick)");
  CLI11_PARSE(app, argc, argv);

  if (info_cmd->parsed()) return info(log_path);
  if (verify_cmd->parsed()) {
    options.prefetch = !no_prefetch;
    return run_replay(log_path, options, "verify", quiet, jobs);
  }
  if (hashes_cmd->parsed()) return hashes(log_path, other_path);
  if (state_cmd->parsed()) return state(log_path, tick, field, full);
  if (export_cmd->parsed()) {
    int code = 0;
    auto log = open_or_report(log_path, code);
    if (!log) return code;
    uint64_t bytes = 0;
    if (auto s = replay::export_log(*log, other_path, &bytes); !s.ok()) return fail(s, "export " + other_path);
    std::printf("exported %s -> %s (%" PRIu64 " bytes)\n", log_path.c_str(), other_path.c_str(), bytes);
    return 0;
  }
  if (import_cmd->parsed()) {
    if (auto s = replay::import_log(log_path, other_path); !s.ok()) return fail(s, "import " + log_path);
    std::printf("imported %s -> %s\n", log_path.c_str(), other_path.c_str());
    return 0;
  }
  if (sync_cmd->parsed()) {
    options.mode = replay::ReplayMode::sync_test;
    return run_replay(log_path, options, "sync-test", false);
  }
  if (heavy_cmd->parsed()) {
    options.mode = replay::ReplayMode::save_load;
    return run_replay(log_path, options, "heavy", false);
  }
  if (saves_cmd->parsed()) return saves(save_logs, other_path, events_path);
  if (seek_cmd->parsed()) return seek(log_path, samples, rec.seed);
  if (record_cmd->parsed()) return record(other_path, rec);
  return 1;
}
