#pragma once
// The scripted sessions of the differential harness, by group. Table t starts
// every run as (1, 'one'), (2, 'two'), (3, 'three').
#include <string>
#include <vector>

#include "harness.hpp"

namespace pgw::test::diff {

// Simple protocol: queries, multi-statement strings, transactions, errors and notices.
std::vector<Script> simple_scripts();
// Extended protocol: named and unnamed statements and portals, Describe,
// Execute with a row limit (PortalSuspended), Close.
std::vector<Script> extended_scripts();
// Pipelines with an error in every position.
std::vector<Script> pipeline_scripts();
// COPY FROM STDIN / TO STDOUT in both protocols, CopyFail, errors mid-COPY.
std::vector<Script> copy_scripts();
// SET/RESET/DISCARD ALL, LISTEN/NOTIFY between two clients, cancels.
std::vector<Script> session_scripts();
// Session state that transaction pooling does not carry between
// transactions: a second client holds the first client's link in between.
std::vector<Script> session_state_scripts();
// Scripts that showed a pgwarden bug, fixed since (README.md).
std::vector<Script> fixed_bug_scripts();
// Scripts that show a pgwarden bug that is not fixed yet (README.md).
std::vector<Script> known_bug_scripts();

}  // namespace pgw::test::diff
