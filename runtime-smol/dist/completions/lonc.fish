# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lonc_global_optspecs
    string join \n conf= host-id= sock-dir= daemons-dir= doc-root= hosts= lond-port= max-links= retries= connect-timeout= step-timeout= request-timeout= delayed-scan= idle-timeout= max-queue= max-queue-bytes= max-line= probe-min= probe-max= shutdown-grace= socket-mode= log-stderr debug daemonize metrics-listen= h/help V/version
end

function __fish_lonc_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lonc_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lonc_using_subcommand
    set -l cmd (__fish_lonc_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lonc -n "__fish_lonc_needs_command" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_needs_command" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_needs_command" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_needs_command" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_needs_command" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_needs_command" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_needs_command" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_needs_command" -l max-links -d 'Most TCP links per remote host' -r
complete -c lonc -n "__fish_lonc_needs_command" -l retries -d 'Failed connection attempts before a host is marked dead' -r
complete -c lonc -n "__fish_lonc_needs_command" -l connect-timeout -d 'Seconds a TCP connect to a lond may take' -r
complete -c lonc -n "__fish_lonc_needs_command" -l step-timeout -d 'Seconds any step of a handshake or transaction may go without progress' -r
complete -c lonc -n "__fish_lonc_needs_command" -l request-timeout -d 'Seconds a request may spend in the daemon in all (queued, waiting for a link, on a link) before it is answered con_lost. Default: the step timeout' -r
complete -c lonc -n "__fish_lonc_needs_command" -l delayed-scan -d 'Seconds between two scans of the delayed directory (also scanned at start-up, after a reload and when a host comes back)' -r
complete -c lonc -n "__fish_lonc_needs_command" -l idle-timeout -d 'Seconds of idleness after which one idle link is closed' -r
complete -c lonc -n "__fish_lonc_needs_command" -l max-queue -d 'Most requests waiting for a link, per host; more are answered con_lost' -r
complete -c lonc -n "__fish_lonc_needs_command" -l max-queue-bytes -d 'Most bytes of requests waiting for a link, per host' -r
complete -c lonc -n "__fish_lonc_needs_command" -l max-line -d 'Longest request or reply line accepted, in bytes' -r
complete -c lonc -n "__fish_lonc_needs_command" -l probe-min -d 'First delay, in seconds, before a dead host is probed again (then doubling)' -r
complete -c lonc -n "__fish_lonc_needs_command" -l probe-max -d 'Longest delay, in seconds, between probes of a dead host' -r
complete -c lonc -n "__fish_lonc_needs_command" -l shutdown-grace -d 'Seconds an orderly shutdown waits for clients to be answered' -r
complete -c lonc -n "__fish_lonc_needs_command" -l socket-mode -d 'Permissions of the UNIX sockets, in octal' -r
complete -c lonc -n "__fish_lonc_needs_command" -l metrics-listen -d 'Also serve the metrics (`lonc metrics`) over HTTP at `GET /metrics` on this TCP address, for Prometheus to scrape, e.g. `127.0.0.1:9661`. Off by default' -r
complete -c lonc -n "__fish_lonc_needs_command" -l log-stderr -d 'Also write human-readable log lines to standard error'
complete -c lonc -n "__fish_lonc_needs_command" -l debug -d 'Start with debug logging on (SIGUSR2 toggles it)'
complete -c lonc -n "__fish_lonc_needs_command" -l daemonize -d 'Detach from the terminal as loncnew did (the default is to stay in the foreground)'
complete -c lonc -n "__fish_lonc_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_needs_command" -s V -l version -d 'Print version'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "send" -d 'Send one request through the daemon, as lonnet\'s `reply` (or `critical`) does, and print the answer'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "check" -d 'Check the configuration: read loncapa.conf and hosts.tab exactly as the daemon would at start, print what it would serve and every problem, and exit 0 only if there is none'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "status" -d 'Show the running daemon and its hosts: state (dead since when, next probe), links (handshaking/idle/busy), queue, retries left, spooled files, requests, replies, `con_lost` by cause, replays and the last minute\'s reply latency'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "revive" -d 'Give one host a fresh retry budget and, if it is dead, revive it and probe it at once (what SIGUSR1 does for every host)'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "reload" -d 'Re-read loncapa.conf and hosts.tab (what SIGHUP does) and say what changed'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "debug" -d 'Turn debug logging on or off (SIGUSR2 toggles it)'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "metrics" -d 'Print the daemon\'s metrics in Prometheus\' text format (version 0.0.4): per host, requests, replies, `con_lost` by cause and replays (counters), the reply latency (a histogram), links by state, queue, dead, retries left and spooled files (gauges)'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "spool" -d 'The delayed directory as a queue: list the spooled requests, replay them now, delete some'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "demo" -d 'Show lonc at work: simulated londs on loopback, the real daemon, real sockets, and a short report. Needs no configuration'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "man" -d 'Print the manual page (roff, section 8), for packages and `man -l -`'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "completions" -d 'Print a shell\'s completion script, for packages'
complete -c lonc -n "__fish_lonc_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lonc -n "__fish_lonc_using_subcommand send" -l timeout -d 'Seconds to wait for the daemon\'s answer' -r
complete -c lonc -n "__fish_lonc_using_subcommand send" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand send" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand send" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand send" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand send" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand send" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand send" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand send" -l critical -d 'On con_lost, spool the request to the delayed directory as lonnet\'s `critical` does (printing con_delayed or con_failed)'
complete -c lonc -n "__fish_lonc_using_subcommand send" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand check" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand check" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand check" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand check" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand check" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand check" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand check" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand status" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand status" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand status" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand status" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand status" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand status" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand status" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand status" -l json -d 'One line of JSON instead of the table'
complete -c lonc -n "__fish_lonc_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand revive" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand revive" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand reload" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand reload" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand debug" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand debug" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand metrics" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -f -a "list" -d 'List the delayed files: age, host, file and request, never an `encrypt:` request\'s arguments'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -f -a "flush" -d 'Replay the delayed files now'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -f -a "delete" -d 'Delete delayed files, each with an `R:` record in lonnet.perm.log'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and not __fish_seen_subcommand_from list flush delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the delayed files: age, host, file and request, never an `encrypt:` request\'s arguments'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Replay the delayed files now'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete delayed files, each with an `R:` record in lonnet.perm.log'
complete -c lonc -n "__fish_lonc_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand demo" -l keep -d 'Keep the temporary LON-CAPA layout instead of removing it (its path is printed)'
complete -c lonc -n "__fish_lonc_using_subcommand demo" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand man" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand man" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand man" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand man" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand man" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand man" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand man" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand man" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l conf -d 'A loncapa.conf to read PerlSetVar lines from; repeat for several (later ones win). Default: /etc/httpd/conf/loncapa.conf, if it exists' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l host-id -d 'This server\'s LON-CAPA host id (lonHostID)' -r
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l sock-dir -d 'Directory of the per-host UNIX sockets and of delayed/ (lonSockDir)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l daemons-dir -d 'Daemon directory; logs and the pid file go to its logs/ (lonDaemons)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l doc-root -d 'Web root; the status file goes to its lon-status/ (lonDocRoot)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l hosts -d 'The hosts table (default `<lonTabDir>/hosts.tab`)' -r -F
complete -c lonc -n "__fish_lonc_using_subcommand completions" -l lond-port -d 'TCP port of the peers\' lond (londPort, default 5663)' -r
complete -c lonc -n "__fish_lonc_using_subcommand completions" -s h -l help -d 'Print help'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "send" -d 'Send one request through the daemon, as lonnet\'s `reply` (or `critical`) does, and print the answer'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "check" -d 'Check the configuration: read loncapa.conf and hosts.tab exactly as the daemon would at start, print what it would serve and every problem, and exit 0 only if there is none'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "status" -d 'Show the running daemon and its hosts: state (dead since when, next probe), links (handshaking/idle/busy), queue, retries left, spooled files, requests, replies, `con_lost` by cause, replays and the last minute\'s reply latency'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "revive" -d 'Give one host a fresh retry budget and, if it is dead, revive it and probe it at once (what SIGUSR1 does for every host)'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "reload" -d 'Re-read loncapa.conf and hosts.tab (what SIGHUP does) and say what changed'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "debug" -d 'Turn debug logging on or off (SIGUSR2 toggles it)'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "metrics" -d 'Print the daemon\'s metrics in Prometheus\' text format (version 0.0.4): per host, requests, replies, `con_lost` by cause and replays (counters), the reply latency (a histogram), links by state, queue, dead, retries left and spooled files (gauges)'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "spool" -d 'The delayed directory as a queue: list the spooled requests, replay them now, delete some'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "demo" -d 'Show lonc at work: simulated londs on loopback, the real daemon, real sockets, and a short report. Needs no configuration'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "man" -d 'Print the manual page (roff, section 8), for packages and `man -l -`'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "completions" -d 'Print a shell\'s completion script, for packages'
complete -c lonc -n "__fish_lonc_using_subcommand help; and not __fish_seen_subcommand_from send check status revive reload debug metrics spool demo man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lonc -n "__fish_lonc_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "list" -d 'List the delayed files: age, host, file and request, never an `encrypt:` request\'s arguments'
complete -c lonc -n "__fish_lonc_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "flush" -d 'Replay the delayed files now'
complete -c lonc -n "__fish_lonc_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "delete" -d 'Delete delayed files, each with an `R:` record in lonnet.perm.log'
