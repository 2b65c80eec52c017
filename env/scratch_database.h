// Scratch databases: a database of a test suite, a benchmark, a compare
// cell or a lesson, recreated empty on a cluster shared with others.
//
// Two things left in a database by an earlier run block DROP DATABASE, even
// WITH (FORCE): prepared transactions (2PC's in-doubt ones; they must be
// rolled back from inside that database) and replication slots (CDC's; a
// slot in use is freed by ending the WAL sender that holds it). Both are
// cleared first; FORCE then ends the remaining sessions.
#pragma once

#include <string>

#include "common/status.h"

namespace dw::env {

// Drops database `name` (if it exists) on the cluster `admin_dsn` reaches
// (any database of it; key=value or URI form), after rolling back its
// prepared transactions and dropping its replication slots.
Status DropScratchDatabase(const std::string& admin_dsn, const std::string& name);

// Drops the replication slots of database `name` only, ending the WAL
// senders that hold them: for a database kept for inspection (a failed
// test's), whose slots would otherwise retain WAL for the whole cluster.
Status DropReplicationSlots(const std::string& admin_dsn, const std::string& name);

// DropScratchDatabase, then CREATE DATABASE `name`: empty, owned by the
// admin DSN's user.
Status RecreateScratchDatabase(const std::string& admin_dsn, const std::string& name);

}  // namespace dw::env
