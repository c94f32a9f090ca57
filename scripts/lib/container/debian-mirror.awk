# Prints "URI SUITE" for every Debian archive entry apt is configured with,
# from one-line (.list) and deb822 (.sources) files given on the command line.
function flush() {
    if (types ~ /(^| )deb( |$)/ && uris != "" && suites != "") {
        n = split(uris, u, " "); m = split(suites, s, " ")
        for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
    }
    types = ""; uris = ""; suites = ""
}
FNR == 1 { flush() }
/^[[:space:]]*#/ { next }
FILENAME ~ /\.sources$/ {
    if ($0 ~ /^[[:space:]]*$/) { flush(); next }
    if (tolower($1) == "types:") { $1 = ""; types = $0 }
    else if (tolower($1) == "uris:") { $1 = ""; uris = $0 }
    else if (tolower($1) == "suites:") { $1 = ""; suites = $0 }
    next
}
$1 == "deb" {
    i = 2
    if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
    print $i, $(i + 1)
}
END { flush() }
