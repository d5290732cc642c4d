from jobsproxy.cli import main

raise SystemExit(main())
