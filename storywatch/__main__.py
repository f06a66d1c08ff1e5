from storywatch.cli import main

main()
