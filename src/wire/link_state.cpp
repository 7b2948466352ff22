#include "pgwarden/wire/link_state.hpp"

#include "pgwarden/wire/aborted_transaction.hpp"

namespace pgw::wire {

namespace {
// Does server message `type` complete request `k` (its last response)?
bool completes(LinkRequest::Kind k, char type) {
  switch (k) {
    case LinkRequest::parse:
    case LinkRequest::injected_parse:
      return type == '1';
    case LinkRequest::bind:
      return type == '2';
    case LinkRequest::close:
    case LinkRequest::injected_close:
      return type == '3';
    case LinkRequest::describe:
      return type == 'T' || type == 'n';
    case LinkRequest::execute:
      return type == 'C' || type == 'I' || type == 's';
    case LinkRequest::sync:
    case LinkRequest::query:
    case LinkRequest::function_call:
    case LinkRequest::replay:
    case LinkRequest::probe:
      return type == 'Z';
    case LinkRequest::local:
    case LinkRequest::copy_end:
      return false;
  }
  return false;
}

bool is_parse(LinkRequest::Kind k) {
  return k == LinkRequest::parse || k == LinkRequest::injected_parse;
}
bool is_close(LinkRequest::Kind k) {
  return k == LinkRequest::close || k == LinkRequest::injected_close;
}
bool is_simple(LinkRequest::Kind k) {
  return k == LinkRequest::query || k == LinkRequest::function_call || k == LinkRequest::replay ||
         k == LinkRequest::probe;
}
}  // namespace

const char* to_string(LinkPhase p) {
  switch (p) {
    case LinkPhase::broken:
      return "broken";
    case LinkPhase::copy:
      return "copy";
    case LinkPhase::busy:
      return "busy";
    case LinkPhase::unsynced:
      return "unsynced";
    case LinkPhase::in_transaction:
      return "in_transaction";
    case LinkPhase::failed_transaction:
      return "failed_transaction";
    case LinkPhase::idle:
      return "idle";
  }
  return "unknown";
}

DepartureAction on_client_departure(LinkPhase p) {
  switch (p) {
    case LinkPhase::idle:
      return DepartureAction::release;
    case LinkPhase::in_transaction:
    case LinkPhase::failed_transaction:
      return DepartureAction::rollback;
    case LinkPhase::busy:
    case LinkPhase::copy:
      return DepartureAction::cancel_and_close;
    case LinkPhase::unsynced:  // a Sync would commit the departed client's implicit transaction
    case LinkPhase::broken:
      return DepartureAction::close;
  }
  return DepartureAction::close;
}

LinkPhase LinkState::phase() const {
  if (broken_) return LinkPhase::broken;
  if (copy_ != Copy::none) return LinkPhase::copy;
  if (!pending_.empty()) return LinkPhase::busy;
  if (unsynced_ > 0) return LinkPhase::unsynced;
  if (tx_ == 'T') return LinkPhase::in_transaction;
  if (tx_ == 'E') return LinkPhase::failed_transaction;
  return LinkPhase::idle;
}

void LinkState::sent(LinkRequest r) {
  if (r.sync_point()) {
    unsynced_ = 0;
  } else if (r.kind != LinkRequest::local && r.kind != LinkRequest::copy_end) {
    ++unsynced_;
  }
  if (r.statement != 0 && (is_parse(r.kind) || is_close(r.kind))) {
    InFlight& f = in_flight_[r.statement];
    f.last_is_parse = is_parse(r.kind);
    ++f.count;
  }
  pending_.push_back(std::move(r));
}

void LinkState::sent_copy_end() {
  if (copy_ == Copy::in) copy_ = Copy::none;
  // The COPY may not have started yet (the client pipelined its data): the
  // marker tells the CopyInResponse, when it comes, where COPY IN ends.
  if (!pending_.empty()) pending_.push_back({LinkRequest::copy_end});
}

bool LinkState::answer_locally(std::string bytes) {
  LinkRequest r{LinkRequest::local};
  r.payload = std::move(bytes);
  return answer_locally(std::move(r));
}

bool LinkState::answer_locally(LinkRequest r) {
  if (pending_.empty()) return false;
  r.kind = LinkRequest::local;
  pending_.push_back(std::move(r));
  return true;
}

void LinkState::drain_locals(std::string& to_client, BackendOutcome& out) {
  while (!pending_.empty() && (pending_.front().kind == LinkRequest::local ||
                               pending_.front().kind == LinkRequest::copy_end)) {
    LinkRequest& r = pending_.front();
    to_client += r.payload;
    if (r.kind == LinkRequest::local && r.closes)
      out.closed_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
    pending_.pop_front();
  }
}

void LinkState::note_effect(const LinkRequest& r) {
  if (r.statement == 0) return;
  if (is_parse(r.kind)) {
    confirmed_.insert(r.statement, 0);
  } else if (is_close(r.kind)) {
    confirmed_.erase(r.statement);
    stale_.erase(r.statement);
  } else {
    return;
  }
  auto it = in_flight_.find(r.statement);
  if (it != in_flight_.end() && --it->second.count == 0) in_flight_.erase(it);
}

void LinkState::drop_effect(const LinkRequest& r) {
  if (r.statement == 0 || !(is_parse(r.kind) || is_close(r.kind))) return;
  auto it = in_flight_.find(r.statement);
  if (it != in_flight_.end() && --it->second.count == 0) in_flight_.erase(it);
}

void LinkState::skip_to_sync(BackendOutcome& out) {
  // After an error in an extended-protocol batch PostgreSQL ignores every
  // message up to the next Sync, simple Query and FunctionCall included: none
  // of them will be answered, and none of their effects happened.
  while (!pending_.empty() && pending_.front().kind != LinkRequest::sync) {
    LinkRequest& r = pending_.front();
    drop_effect(r);
    if (!r.client_name.empty() && (r.kind == LinkRequest::parse || r.kind == LinkRequest::local)) {
      if (r.closes)
        out.kept_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
      else
        out.forgotten_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
    }
    pending_.pop_front();
  }
}

bool LinkState::awaits_probe() const {
  for (const auto& r : pending_)
    if (r.kind == LinkRequest::probe) return true;
  return false;
}

bool LinkState::will_exist(uint64_t id) const {
  if (auto it = in_flight_.find(id); it != in_flight_.end()) return it->second.last_is_parse;
  return confirmed_.contains(id) && !stale_.count(id);
}

std::optional<uint64_t> LinkState::victim_for(size_t capacity) const {
  if (capacity == 0) return std::nullopt;
  size_t projected = confirmed_.size();
  for (const auto& [id, f] : in_flight_) {
    const bool now = confirmed_.contains(id);
    if (f.last_is_parse && !now) ++projected;
    if (!f.last_is_parse && now) --projected;
  }
  if (projected < capacity) return std::nullopt;
  return confirmed_.least_recent(
      [&](uint64_t id) { return !in_flight_.count(id) && !stale_.count(id); });
}

BackendOutcome LinkState::received(const Frame& f, std::string& to_client) {
  BackendOutcome out;
  const char t = f.type;
  const LinkRequest* front = pending_.empty() ? nullptr : &pending_.front();
  out.hidden = front && front->hidden();
  auto forward = [&] {
    if (!out.hidden) to_client.append(f.body.data() - 5, f.size);
  };

  switch (t) {
    case 'S':  // ParameterStatus, NoticeResponse, NotificationResponse: asynchronous
      // A settings probe restores startup values that a RESET took back to
      // the link's login values: the client must hear what it has now.
      if (out.hidden && front->kind == LinkRequest::probe)
        to_client.append(f.body.data() - 5, f.size);
      forward();
      return out;
    case 'N':
    case 'A':
      forward();
      return out;
    case 'E': {
      parse_error_fields(f.body, out.error_fields);
      const std::string& sev = out.error_fields.severity;
      if (sev == "FATAL" || sev == "PANIC") {
        out.fatal = true;
        fatal_ = broken_ = true;
        to_client.append(f.body.data() - 5, f.size);  // the client must hear the server's reason
        return out;
      }
      out.error = true;
      copy_ = Copy::none;
      if (!front) {
        out.unexpected = true;
        forward();
        return out;
      }
      // A cached plan whose result type changed keeps failing until the
      // statement is prepared anew: it exists on the server but is useless.
      if (front->kind == LinkRequest::bind && front->statement != 0 &&
          out.error_fields.sqlstate == "0A000" &&
          out.error_fields.message.find("cached plan must not change result type") !=
              std::string::npos) {
        stale_[front->statement] = true;
      }
      // The replay's own error is the proxy's problem, not the client's.
      out.replay_failed = front->kind == LinkRequest::replay;
      out.probe_failed = front->kind == LinkRequest::probe;
      // The proxy's own queries fail quietly; an injected Parse or Close fails
      // for the client's request it serves, so the client hears it.
      if (!out.replay_failed && !out.probe_failed) to_client.append(f.body.data() - 5, f.size);
      if (!is_simple(front->kind)) {
        batch_failed_ = true;
        skip_to_sync(out);
      }
      drain_locals(to_client, out);
      return out;
    }
    case 'G':  // CopyInResponse / CopyBothResponse: the server waits for client data
    case 'W': {
      // PostgreSQL ignores Sync and Flush during COPY IN: a Sync the client
      // sent before its CopyDone/CopyFail (libpq sends one right after the
      // Execute) gets no ReadyForQuery of its own.
      bool ended = false;
      for (auto it = pending_.begin() + (pending_.empty() ? 0 : 1); it != pending_.end();) {
        if (it->kind == LinkRequest::copy_end) {
          ended = true;
          break;
        }
        it = it->kind == LinkRequest::sync ? pending_.erase(it) : it + 1;
      }
      copy_ = ended ? Copy::none : Copy::in;
      forward();
      return out;
    }
    case 'H':  // CopyOutResponse
      copy_ = Copy::out;
      forward();
      return out;
    case 'c':  // CopyDone from the server ends COPY OUT
      if (copy_ == Copy::out) copy_ = Copy::none;
      forward();
      return out;
    case 'C': {
      copy_ = Copy::none;
      if (f.body.starts_with("DISCARD ALL") || f.body.starts_with("DEALLOCATE ALL")) {
        confirmed_.clear();
        stale_.clear();
        out.statements_reset = !out.hidden;
      }
      const std::string_view tag = f.body.substr(0, f.body.find('\0'));
      out.settings_changed =
          !out.hidden && (tag == "SET" || tag == "RESET" || tag.starts_with("DISCARD"));
      break;
    }
    case 'D':
      out.probe_row = front && front->kind == LinkRequest::probe;
      break;
    default:
      break;
  }

  if (!front) {
    // A response with nothing to answer: the link's state can no longer be
    // known, so it must never be lent again.
    out.unexpected = true;
    broken_ = true;
    to_client.append(f.body.data() - 5, f.size);
    return out;
  }
  if (!completes(front->kind, t)) {
    forward();
    return out;
  }
  LinkRequest done = std::move(pending_.front());
  pending_.pop_front();
  note_effect(done);
  forward();
  if (done.changes_settings) out.settings_changed = true;
  if (t == 'Z') {
    if (done.kind == LinkRequest::sync) batch_failed_ = false;
    out.status = f.body.empty() ? 'I' : f.body[0];
    tx_ = out.status;
    copy_ = Copy::none;
    if (done.kind == LinkRequest::replay)
      out.replay_ready = true;
    else if (done.kind == LinkRequest::probe)
      out.probe_ready = true;
    else
      out.ready = true;
  }
  drain_locals(to_client, out);
  return out;
}

LostLinkAnswer LinkState::lost(const LostLinkErrors& why) {
  LostLinkAnswer a;
  char status = tx_;
  bool block_told = tx_ == 'E';  // a failed block: the client expects nothing but 25P02
  bool batch_told = batch_failed_;
  auto in_block = [&] { return status == 'T' || status == 'E'; };
  auto fail = [&] {
    if (!in_block()) {
      error_response(a.to_client, why.outcome_unknown);
    } else if (!block_told) {
      error_response(a.to_client, why.rolled_back);
      block_told = true;
    } else {
      error_response(a.to_client, in_failed_transaction_error());
    }
  };
  auto ready = [&] {
    if (in_block()) status = 'E';
    ready_for_query(a.to_client, status);
  };
  for (LinkRequest& r : pending_) {
    switch (r.kind) {
      case LinkRequest::injected_parse:
      case LinkRequest::injected_close:
      case LinkRequest::replay:
      case LinkRequest::probe:
      case LinkRequest::copy_end:
        break;  // the proxy's own: nothing for the client
      case LinkRequest::local:
        if (!batch_told) {
          a.to_client += r.payload;
          if (r.closes && !r.client_name.empty())
            a.closed_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
        } else if (!r.closes && !r.client_name.empty()) {
          a.forgotten_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
        }
        break;
      case LinkRequest::sync:
        // Everything of the batch may have run without its end being
        // confirmed: in a block the block is lost, outside one the commit.
        if (!batch_told) fail();
        batch_told = false;
        ready();
        break;
      case LinkRequest::query:
      case LinkRequest::function_call:
        if (r.tx_exit == TxExit::rollback || (r.tx_exit == TxExit::commit && status == 'E')) {
          // The block is gone either way: ending it succeeds (as ROLLBACK).
          command_complete(a.to_client, "ROLLBACK");
          status = 'I';
          block_told = false;
          ready_for_query(a.to_client, status);
        } else if (r.tx_exit == TxExit::commit && status == 'I') {
          command_complete(a.to_client, "COMMIT");  // nothing to commit
          ready_for_query(a.to_client, status);
        } else if (r.tx_exit == TxExit::commit) {
          error_response(a.to_client, why.outcome_unknown);
          status = 'I';  // the block is over, committed or not
          block_told = false;
          ready_for_query(a.to_client, status);
        } else {
          fail();
          ready();
        }
        break;
      default:  // parse, bind, describe, execute, close: one error per batch
        if (!batch_told) fail();
        batch_told = true;
        if (r.kind == LinkRequest::parse && !r.client_name.empty())
          a.forgotten_client_statements.emplace_back(std::move(r.client_name), r.client_serial);
        break;
    }
  }
  a.mid_batch = unsynced_ > 0;
  if (a.mid_batch && !batch_told) fail();
  if (in_block()) status = 'E';
  a.status = status;
  a.told = block_told;
  pending_.clear();
  broken_ = true;
  return a;
}

}  // namespace pgw::wire
