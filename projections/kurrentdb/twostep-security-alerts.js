// twostep: every security alert in one stream, `audit-security-alerts`,
// for auditors reading KurrentDB directly.
//
// Links each `SecurityAlertRaised` of the licence and account streams, in
// commit order. The links point at the original events: read the stream
// with "resolve links" to see them. Installed by
// `twostep projections install`; needs the standard `$by_category`
// projection (KURRENTDB_START_STANDARD_PROJECTIONS=true).

fromCategories(["licence", "account"])
    .when({
        SecurityAlertRaised: function (state, event) {
            linkTo("audit-security-alerts", event);
        }
    });
