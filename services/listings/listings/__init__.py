"""The listings service: homes for sale, their search, photos and public pages."""
