// storage/account_registry.h — the account registry: each account name owns one player id for
// good. An id is assigned once, when a login of a new name succeeds (never for a refused attempt),
// never reused for another name, and kept across restarts: a name that comes back after a restart
// gets its own id again, whatever order the players arrive in.
//
// AccountRegistry is the port the login uses; RocksAccountRegistry keeps it in an embedded RocksDB
// store (data_dir/accounts). A later issue can put a MariaDB adapter behind the same interface.
// Thread-safe: the login calls it from the HTTP thread and from its password verifiers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace strata::storage {

// Account ids are player ids: 1..ids_max (the sim's player ids are 24-bit).
inline constexpr uint32_t account_ids_limit = (1U << 24) - 1;
// Account names are short (the login refuses longer ones before they reach the store).
inline constexpr size_t account_name_bytes_max = 64;

struct Binding {
  enum class Status : uint8_t {
    existing,     // the name already had this id
    created,      // the name is new and got this id (written durably before the answer)
    not_found,    // the name is new and may_create was false
    full,         // the name is new and every id (up to ids_max) is taken
    store_error,  // the store could not be read or written
  };
  Status status = Status::not_found;
  uint32_t player = 0;  // set for existing and created
};

class AccountRegistry {
 public:
  virtual ~AccountRegistry() = default;
  // The id of `name`; a new name gets the next free id when `may_create`.
  [[nodiscard]] virtual Binding bind(std::string_view name, bool may_create) = 0;
  // Accounts held (names with an id).
  [[nodiscard]] virtual uint64_t size() const = 0;
};

class RocksAccountRegistry final : public AccountRegistry {
 public:
  // Opens (creating) the store in `dir`. ids_max caps the ids handed out (<= account_ids_limit).
  // sync: every new binding is fsynced before it is answered (an id the server handed out survives
  // power loss; otherwise it survives a crash of the process only).
  [[nodiscard]] static std::unique_ptr<RocksAccountRegistry> open(const std::string& dir, uint32_t ids_max, bool sync,
                                                                  std::string& error);
  ~RocksAccountRegistry() override;

  [[nodiscard]] Binding bind(std::string_view name, bool may_create) override;
  [[nodiscard]] uint64_t size() const override;

 private:
  struct Impl;
  explicit RocksAccountRegistry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
