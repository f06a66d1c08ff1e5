from storywatch.cli import main

# Guarded: extraction worker processes re-import the main module when they start.
if __name__ == "__main__":
    main()
