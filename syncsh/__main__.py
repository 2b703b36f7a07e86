from syncsh.cli import main

raise SystemExit(main())
