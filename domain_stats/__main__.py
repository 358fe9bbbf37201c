from domain_stats.cli import main

main()
