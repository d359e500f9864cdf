// twostep: per-licence login history, for auditors reading KurrentDB directly.
//
// Links every login step of the licence's accounts into one stream per
// licence, `audit-logins-{licence id, 32 hex digits}` (the id of the
// `licence-…` stream), in the order the server committed them. The links
// point at the original events in the `account-…` streams: read the stream
// with "resolve links" to see them.
//
// An account stream names its licence only in its first event
// (`AccessConfirmationIssued`), so the state is kept per account stream.
// Installed by `twostep projections install`; needs the standard
// `$by_category` projection (KURRENTDB_START_STANDARD_PROJECTIONS=true).

var LOGIN_STEPS = [
    "PasswordRejected",
    "ChallengeOpened",
    "CodeAccepted",
    "CodeRejected",
    "SessionStarted",
    "SessionEnded",
    "AccountLocked",
    "LockLifted",
    "LockExpired",
    "LoginRefusedWhileLocked",
    "UnrequestedCodeReported"
];

function licenceKey(id) {
    return String(id).replace(/-/g, "").toLowerCase();
}

function linkStep(state, event) {
    if (state.licence) {
        linkTo("audit-logins-" + state.licence, event);
    }
    return state;
}

var handlers = {
    $init: function () {
        return { licence: null };
    },
    AccessConfirmationIssued: function (state, event) {
        if (event.data && event.data.licence_id) {
            state.licence = licenceKey(event.data.licence_id);
        }
        return state;
    }
};

LOGIN_STEPS.forEach(function (type) {
    handlers[type] = linkStep;
});

fromCategory("account")
    .foreachStream()
    .when(handlers);
