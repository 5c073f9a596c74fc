// strata-desync — finds where two runs diverge and what differs there.
//   compare A B [--bundle FILE] [--max-lines N]
//       A, B: session logs (RocksDB directory or export file) or hash stream files ("tick quick
//       [full]" lines, as strata-scenario and `strata-replay hashes` print, or a client dumps).
//       Prints the first divergent tick and which hash; when both are logs, rebuilds both states
//       before and at that tick and prints their field-level differences and the inputs around it;
//       --bundle writes all of that to one file.
//   bundle A B FILE
//       the same as compare --bundle FILE.
//   explain BUNDLE
//       prints a bundle's report again (on another machine: the bundle holds the states).
//   maps A B
//       A, B: map files two regions wrote on a desync (<data_dir>/desync/*.map, server/map_snapshots.h)
//       or any two map snapshots. Prints each one's region, tick, vector, hash and note, then the
//       first differing chunk, cell and layer with both values and stamps, and how many (cell,
//       layer) pairs differ.
// Exit codes: 0 no divergence, 6 diverged, 2 not found, 3 damaged, 4 rules version, 5 unsupported,
// 7 I/O, 8 invalid argument, 1 usage.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "replay/desync.h"
#include "replay/frames.h"
#include "server/map_snapshots.h"

namespace {

using namespace strata;

// Rebuilding states restores several worlds of the map's size; as in strata-replay, keep freed
// blocks for reuse instead of fresh (page-faulting) mmaps for each.
void keep_freed_memory() {
#if defined(__GLIBC__)
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

int fail(const replay::Status& status, const std::string& what) {
  std::fprintf(stderr, "strata-desync: %s: %s\n", what.c_str(), status.describe().c_str());
  return replay::exit_code(status.code);
}

bool is_hash_stream(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // a RocksDB log, or missing
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;  // a directory (RocksDB log) or missing: open_log reports
  char head[8] = {};
  in.read(head, sizeof(head));
  uint64_t magic = 0;
  for (int i = 0; i < 8; ++i) magic |= uint64_t{static_cast<uint8_t>(head[i])} << (8 * i);
  return magic != replay::export_magic;
}

struct Input {
  std::unique_ptr<replay::LogSource> log;  // null for a hash stream
  replay::HashStream hashes;
};

replay::Status load(const std::string& path, Input& input) {
  if (is_hash_stream(path)) return replay::read_hash_stream(path, input.hashes);
  replay::Status status;
  input.log = replay::open_log(path, status);
  if (!input.log) return status;
  return replay::recorded_hashes(*input.log, input.hashes);
}

int compare(const std::string& a_path, const std::string& b_path, const std::string& bundle_path, size_t max_lines) {
  Input a;
  Input b;
  if (auto s = load(a_path, a); !s.ok()) return fail(s, a_path);
  if (auto s = load(b_path, b); !s.ok()) return fail(s, b_path);
  const replay::Divergence d = replay::first_divergence(a.hashes, b.hashes);
  if (!d.found) {
    if (d.common_last == 0 && d.common_first == 0) {
      return fail(replay::Status::error(replay::Code::invalid_argument, "the two runs share no tick"), "compare");
    }
    std::printf("no divergence over ticks %" PRIu64 "..%" PRIu64 " (A ends at %" PRIu64 ", B at %" PRIu64 ")\n",
                d.common_first, d.common_last, a.hashes.back().tick, b.hashes.back().tick);
    return 0;
  }
  std::printf("first divergent tick: %" PRIu64 " (%s: A %016" PRIx64 ", B %016" PRIx64 "; binary search over %" PRIu64
              " full-hash points)\n",
              d.tick, d.which.c_str(), d.a, d.b, d.full_points_compared);
  if (!a.log || !b.log) {
    std::printf("(a hash stream holds no state: give two logs for the field-level differences)\n");
    return replay::exit_code(replay::Code::hash_mismatch);
  }
  replay::DesyncBundle bundle;
  if (auto s = replay::collect(*a.log, *b.log, d.tick, bundle); !s.ok()) return fail(s, "rebuilding the states");
  std::fputs(replay::explain(bundle, max_lines).c_str(), stdout);
  if (!bundle_path.empty()) {
    if (auto s = replay::write_bundle(bundle_path, bundle); !s.ok()) return fail(s, "bundle " + bundle_path);
    std::printf("bundle written to %s\n", bundle_path.c_str());
  }
  return replay::exit_code(replay::Code::hash_mismatch);
}

std::optional<server::MapSnapshot> read_map_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "strata-desync: %s: cannot open\n", path.c_str());
    return std::nullopt;
  }
  std::vector<uint8_t> bytes;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    bytes.insert(bytes.end(), buffer, buffer + in.gcount());
    if (bytes.size() > server::map_snapshot_limits::blob_bytes_max) break;
  }
  server::MapSnapshotDecode decoded = server::decode_map_snapshot(bytes);
  if (!decoded.snapshot) {
    std::fprintf(stderr, "strata-desync: %s: %s\n", path.c_str(), decoded.error.c_str());
    return std::nullopt;
  }
  return std::move(decoded.snapshot);
}

void print_map_info(const char* label, const std::string& path, const server::MapSnapshot& s) {
  std::printf("%s: %s\n   region %u tick %" PRIu64 " map hash %016" PRIx64 " vector", label, path.c_str(),
              unsigned{sim::raw(s.info.origin)}, s.info.tick, s.info.map_hash);
  for (const sim::BusMark& m : s.info.applied) std::printf(" %u:%" PRIu64, unsigned{sim::raw(m.origin)}, m.seq);
  std::printf("\n");
  if (!s.info.note.empty()) std::printf("   note: %s\n", s.info.note.c_str());
}

const char* layer_name(sim::Layer layer) {
  switch (layer) {
    case sim::Layer::floor: return "floor";
    case sim::Layer::active: return "active";
    case sim::Layer::ceiling: return "ceiling";
    default: return "?";
  }
}

int compare_map_files(const std::string& a_path, const std::string& b_path) {
  const std::optional<server::MapSnapshot> a = read_map_file(a_path);
  if (!a) return replay::exit_code(replay::Code::damaged);
  const std::optional<server::MapSnapshot> b = read_map_file(b_path);
  if (!b) return replay::exit_code(replay::Code::damaged);
  print_map_info("A", a_path, *a);
  print_map_info("B", b_path, *b);
  if (a->info.applied != b->info.applied) {
    std::printf(
        "the vectors differ: the maps hold different sets of events (a region's vector moves on between "
        "the desync and the map it writes), so some differences may be events one has applied and the other "
        "not yet\n");
  }
  const server::MapDifference d = server::compare_maps(a->world.map, b->world.map);
  if (!d.same_size) {
    std::printf("the maps differ in size: A %dx%d chunks, B %dx%d chunks\n", a->world.map.chunks_x(),
                a->world.map.chunks_y(), b->world.map.chunks_x(), b->world.map.chunks_y());
    return replay::exit_code(replay::Code::hash_mismatch);
  }
  if (!d.found) {
    std::printf("the maps are the same (%zu chunks)\n", a->world.map.chunks().size());
    return 0;
  }
  std::printf("first difference: chunk %zu, cell (%d, %d), layer %s\n", d.chunk, d.cell.x, d.cell.y,
              layer_name(d.layer));
  std::printf("   A: kind %u state %u stamp (hlc %" PRIu64 ", region %u)\n", unsigned{d.a_value.kind},
              unsigned{d.a_value.state}, d.a_stamp.hlc, unsigned{sim::raw(d.a_stamp.region)});
  std::printf("   B: kind %u state %u stamp (hlc %" PRIu64 ", region %u)\n", unsigned{d.b_value.kind},
              unsigned{d.b_value.state}, d.b_stamp.hlc, unsigned{sim::raw(d.b_stamp.region)});
  std::printf("differing cells (cell, layer pairs): %" PRIu64 "\n", d.differing);
  return replay::exit_code(replay::Code::hash_mismatch);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"strata-desync: first divergent tick of two runs, and the fields that differ there"};
  app.require_subcommand(1);
  std::string a_path;
  std::string b_path;
  std::string bundle_path;
  size_t max_lines = 200;
  auto* compare_cmd = app.add_subcommand("compare", "find the first divergent tick of two logs / hash streams");
  compare_cmd->add_option("a", a_path, "log or hash stream")->required();
  compare_cmd->add_option("b", b_path, "log or hash stream")->required();
  compare_cmd->add_option("--bundle", bundle_path, "write a desync bundle to this file");
  compare_cmd->add_option("--max-lines", max_lines, "field differences shown")->check(CLI::Range(1, 100000));
  auto* bundle_cmd = app.add_subcommand("bundle", "compare two logs and write the desync bundle");
  bundle_cmd->add_option("a", a_path, "log")->required();
  bundle_cmd->add_option("b", b_path, "log")->required();
  bundle_cmd->add_option("file", bundle_path, "bundle to write")->required();
  auto* explain_cmd = app.add_subcommand("explain", "print a desync bundle's report");
  explain_cmd->add_option("bundle", bundle_path)->required();
  explain_cmd->add_option("--max-lines", max_lines, "field differences shown")->check(CLI::Range(1, 100000));
  auto* maps_cmd = app.add_subcommand("maps", "compare two map files (a desync's <data_dir>/desync/*.map)");
  maps_cmd->add_option("a", a_path, "map file")->required();
  maps_cmd->add_option("b", b_path, "map file")->required();
  CLI11_PARSE(app, argc, argv);

  if (maps_cmd->parsed()) return compare_map_files(a_path, b_path);

  if (compare_cmd->parsed() || bundle_cmd->parsed()) return compare(a_path, b_path, bundle_path, max_lines);
  replay::DesyncBundle bundle;
  if (auto s = replay::read_bundle(bundle_path, bundle); !s.ok()) return fail(s, bundle_path);
  std::fputs(replay::explain(bundle, max_lines).c_str(), stdout);
  return 0;
}
