// twostep: every account lock and unlock in one stream, `audit-locks`, for
// auditors reading KurrentDB directly (who was locked, when, and how the
// lock ended).
//
// Links `AccountLocked`, `LockLifted`, `LockExpired` and
// `LoginRefusedWhileLocked` of the account streams, in commit order.
// Installed by `twostep projections install`; needs the standard
// `$by_category` projection (KURRENTDB_START_STANDARD_PROJECTIONS=true).

function link(state, event) {
    linkTo("audit-locks", event);
}

fromCategory("account")
    .when({
        AccountLocked: link,
        LockLifted: link,
        LockExpired: link,
        LoginRefusedWhileLocked: link
    });
