"""Small built-in word lists and reference tables for the retail demo data.

Everything here is plain tuples so that generation never depends on the network, on Faker or on
dict/set ordering: the order of each tuple is part of the generator's contract (changing it changes
the generated data, so bump ``GENERATOR_VERSION`` in ``retail.py`` when you edit this file).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    """A city customers live in and stores open in; ``weight`` is its relative population."""

    name: str
    region: str
    weight: float


@dataclass(frozen=True)
class Country:
    """A market: its currency, its share of customers, the language of customer names."""

    name: str
    code: str
    currency: str
    customer_share: float
    language: str
    cities: tuple[City, ...]


@dataclass(frozen=True)
class Subcategory:
    """A product family with a typical (median) USD price and a log-normal spread around it."""

    name: str
    median_price: float
    price_sigma: float
    nouns: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    """A department: demand share, catalog share, basket size, margin and monthly seasonality."""

    name: str
    code: str
    demand_share: float
    catalog_share: float
    extra_quantity: float  # mean of the Poisson added to quantity 1
    margin: tuple[float, float]  # cost as a fraction of price, drawn uniformly in this range
    monthly: tuple[float, ...]  # Jan..Dec demand multipliers relative to the store average
    brands: tuple[str, ...]
    subcategories: tuple[Subcategory, ...]


def _words(text: str) -> tuple[str, ...]:
    """Comma-separated words as a tuple (compact to read, and stable under the formatter)."""
    return tuple(word.strip() for word in text.split(","))


def _cities(*rows: tuple[str, str, float]) -> tuple[City, ...]:
    return tuple(City(name, region, weight) for name, region, weight in rows)


COUNTRIES: tuple[Country, ...] = (
    Country(
        "United States",
        "US",
        "USD",
        0.45,
        "en",
        _cities(
            ("New York", "Northeast", 8.3),
            ("Boston", "Northeast", 0.7),
            ("Philadelphia", "Northeast", 1.6),
            ("Chicago", "Midwest", 2.7),
            ("Detroit", "Midwest", 0.6),
            ("Minneapolis", "Midwest", 0.4),
            ("Atlanta", "South", 0.5),
            ("Dallas", "South", 1.3),
            ("Houston", "South", 2.3),
            ("Miami", "South", 0.4),
            ("Los Angeles", "West", 3.9),
            ("San Francisco", "West", 0.8),
            ("Seattle", "West", 0.7),
            ("Denver", "West", 0.7),
            ("Phoenix", "West", 1.6),
        ),
    ),
    Country(
        "United Kingdom",
        "GB",
        "GBP",
        0.15,
        "en",
        _cities(
            ("London", "London", 8.9),
            ("Manchester", "North West", 0.6),
            ("Birmingham", "Midlands", 1.1),
            ("Leeds", "Yorkshire", 0.8),
            ("Glasgow", "Scotland", 0.6),
            ("Edinburgh", "Scotland", 0.5),
            ("Bristol", "South West", 0.5),
        ),
    ),
    Country(
        "Germany",
        "DE",
        "EUR",
        0.14,
        "de",
        _cities(
            ("Berlin", "Berlin", 3.7),
            ("Hamburg", "Hamburg", 1.9),
            ("Munich", "Bavaria", 1.5),
            ("Cologne", "North Rhine-Westphalia", 1.1),
            ("Frankfurt", "Hesse", 0.8),
            ("Düsseldorf", "North Rhine-Westphalia", 0.6),
            ("Stuttgart", "Baden-Württemberg", 0.6),
        ),
    ),
    Country(
        "France",
        "FR",
        "EUR",
        0.11,
        "fr",
        _cities(
            ("Paris", "Île-de-France", 2.2),
            ("Lyon", "Auvergne-Rhône-Alpes", 0.5),
            ("Marseille", "Provence-Alpes-Côte d'Azur", 0.9),
            ("Toulouse", "Occitanie", 0.5),
            ("Bordeaux", "Nouvelle-Aquitaine", 0.3),
            ("Lille", "Hauts-de-France", 0.2),
            ("Nantes", "Pays de la Loire", 0.3),
        ),
    ),
    Country(
        "Canada",
        "CA",
        "CAD",
        0.08,
        "en",
        _cities(
            ("Toronto", "Ontario", 2.8),
            ("Ottawa", "Ontario", 1.0),
            ("Montreal", "Quebec", 1.8),
            ("Vancouver", "British Columbia", 0.7),
            ("Calgary", "Alberta", 1.3),
        ),
    ),
    Country(
        "Netherlands",
        "NL",
        "EUR",
        0.07,
        "nl",
        _cities(
            ("Amsterdam", "North Holland", 0.9),
            ("Rotterdam", "South Holland", 0.65),
            ("The Hague", "South Holland", 0.55),
            ("Utrecht", "Utrecht", 0.36),
            ("Eindhoven", "North Brabant", 0.24),
        ),
    ),
)

# code, name, US dollars per unit (fixed reference rates; also used to set local shelf prices)
CURRENCIES: tuple[tuple[str, str, float], ...] = (
    ("USD", "US Dollar", 1.0),
    ("EUR", "Euro", 1.08),
    ("GBP", "Pound Sterling", 1.27),
    ("CAD", "Canadian Dollar", 0.74),
)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": _words(
        "James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, "
        "Elizabeth, William, Barbara, Richard, Susan, Joseph, Jessica, Thomas, Sarah, "
        "Charles, Karen, Daniel, Emily, Matthew, Olivia, Anthony, Sophie, Mark, Chloe, "
        "Andrew, Grace, Oliver, Amelia, Harry, Isla, Noah, Ava, Liam, Mia, Ethan, Zoe, "
        "Priya, Arjun, Wei, Mei, Carlos, Lucia"
    ),
    "de": _words(
        "Lukas, Anna, Leon, Lea, Finn, Hannah, Paul, Lena, Jonas, Laura, Felix, Julia, "
        "Maximilian, Sophie, Elias, Marie, Ben, Emma, Noah, Mia, Tim, Katharina, Jan, "
        "Sarah, Moritz, Johanna, Stefan, Sabine, Thomas, Petra, Emre, Elif"
    ),
    "fr": _words(
        "Louis, Emma, Gabriel, Jade, Léo, Louise, Raphaël, Alice, Arthur, Chloé, "
        "Jules, Léa, Hugo, Manon, Lucas, Camille, Nathan, Inès, Thomas, Sarah, "
        "Antoine, Juliette, Pierre, Claire, Nicolas, Élodie, Mathieu, Amélie, Karim, "
        "Yasmine"
    ),
    "nl": _words(
        "Daan, Emma, Sem, Julia, Lucas, Mila, Levi, Tess, Finn, Sophie, Luuk, Zoë, "
        "Milan, Sara, Bram, Anna, Thijs, Fleur, Jesse, Lotte, Ruben, Sanne, Sven, Eva, "
        "Joris, Noor"
    ),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": _words(
        "Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Wilson, "
        "Taylor, Anderson, Thomas, Moore, Martin, Jackson, Thompson, White, Harris, "
        "Clark, Lewis, Robinson, Walker, Young, Allen, King, Wright, Scott, Green, "
        "Baker, Adams, Evans, Hughes, Patel, Khan, Nguyen, Chen, Murphy, Kelly, "
        "Campbell, Stewart, Tremblay, Roy, Gagnon"
    ),
    "de": _words(
        "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, "
        "Hoffmann, Schäfer, Koch, Bauer, Richter, Klein, Wolf, Schröder, Neumann, "
        "Schwarz, Zimmermann, Braun, Krüger, Hofmann, Hartmann, Lange, Yilmaz, Kaya"
    ),
    "fr": _words(
        "Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, "
        "Laurent, Simon, Michel, Lefebvre, Leroy, Roux, David, Bertrand, Morel, "
        "Fournier, Girard, Bonnet, Dupont, Lambert, Fontaine, Rousseau, Benali, "
        "Mercier"
    ),
    "nl": _words(
        "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, Visser, "
        "Smit, Meijer, de Boer, Mulder, de Groot, Bos, Vos, Peters, Hendriks, "
        "van Leeuwen, Dekker, Brouwer, de Wit, Dijkstra"
    ),
}

# Reserved documentation domains (RFC 2606): demo emails can never reach a real person.
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example")

# name, probability, relative ordering weight (business customers order more often)
SEGMENTS: tuple[tuple[str, float, float], ...] = (
    ("consumer", 0.82, 1.0),
    ("small_business", 0.13, 2.2),
    ("corporate", 0.05, 3.5),
)

PRODUCT_ADJECTIVES: tuple[str, ...] = _words(
    "Classic, Essential, Pro, Ultra, Eco, Compact, Premium, Everyday, Deluxe, Smart, "
    "Original, Lite, Max, Signature, Urban, Nordic, Studio, Active"
)

CATEGORIES: tuple[Category, ...] = (
    Category(
        name="Electronics",
        code="ELE",
        demand_share=0.12,
        catalog_share=0.12,
        extra_quantity=0.08,
        margin=(0.60, 0.80),
        monthly=(0.9, 0.8, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.0, 1.0, 1.3, 1.5),
        brands=("Voltix", "Nordlight", "Auralis", "Pixelon", "Kestrel", "Zentro"),
        subcategories=(
            Subcategory("Phones", 420.0, 0.55, ("Smartphone", "Phone", "Flip Phone")),
            Subcategory("Laptops", 750.0, 0.40, ("Laptop", "Notebook", "Ultrabook")),
            Subcategory("Audio", 90.0, 0.80, ("Headphones", "Earbuds", "Speaker", "Soundbar")),
            Subcategory("Accessories", 25.0, 0.60, ("Charger", "Cable", "Power Bank", "Case")),
        ),
    ),
    Category(
        name="Home & Kitchen",
        code="HOM",
        demand_share=0.16,
        catalog_share=0.15,
        extra_quantity=0.30,
        margin=(0.45, 0.65),
        monthly=(0.9, 0.9, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 1.0, 1.1, 1.1, 1.2),
        brands=("Hearthwell", "Casa Nova", "Linden & Oak", "Potluck", "Brightnest", "Kumo"),
        subcategories=(
            Subcategory("Cookware", 45.0, 0.60, ("Frying Pan", "Saucepan", "Dutch Oven", "Wok")),
            Subcategory("Appliances", 110.0, 0.70, ("Blender", "Toaster", "Kettle", "Air Fryer")),
            Subcategory("Decor", 30.0, 0.70, ("Vase", "Candle", "Picture Frame", "Cushion")),
            Subcategory("Bedding", 60.0, 0.50, ("Duvet", "Pillow", "Sheet Set", "Throw")),
        ),
    ),
    Category(
        name="Apparel",
        code="APP",
        demand_share=0.22,
        catalog_share=0.22,
        extra_quantity=0.45,
        margin=(0.35, 0.55),
        monthly=(1.2, 0.9, 1.1, 1.1, 1.0, 0.9, 0.9, 1.0, 1.1, 1.0, 1.0, 1.1),
        brands=("Northway", "Ember & Ash", "Loom", "Tidewear", "Kinfolk", "Stride"),
        subcategories=(
            Subcategory("Men", 40.0, 0.55, ("T-Shirt", "Jeans", "Jacket", "Sweater")),
            Subcategory("Women", 45.0, 0.55, ("Dress", "Blouse", "Coat", "Cardigan")),
            Subcategory("Kids", 22.0, 0.45, ("Hoodie", "Pyjamas", "Rain Jacket", "Leggings")),
            Subcategory("Shoes", 75.0, 0.45, ("Sneakers", "Boots", "Sandals", "Loafers")),
        ),
    ),
    Category(
        name="Beauty",
        code="BEA",
        demand_share=0.10,
        catalog_share=0.10,
        extra_quantity=0.60,
        margin=(0.30, 0.50),
        monthly=(0.9, 1.2, 1.0, 1.0, 1.1, 1.0, 0.9, 0.9, 0.9, 1.0, 1.1, 1.3),
        brands=("Lumière", "Verdant", "Solace", "Petal & Pine", "Aurea", "Nimbus"),
        subcategories=(
            Subcategory("Skincare", 24.0, 0.60, ("Moisturiser", "Serum", "Cleanser", "Sunscreen")),
            Subcategory("Makeup", 18.0, 0.50, ("Lipstick", "Mascara", "Foundation", "Palette")),
            Subcategory("Fragrance", 65.0, 0.45, ("Eau de Parfum", "Body Mist", "Cologne")),
            Subcategory("Hair", 14.0, 0.50, ("Shampoo", "Conditioner", "Hair Oil", "Styling Gel")),
        ),
    ),
    Category(
        name="Sports & Outdoors",
        code="SPO",
        demand_share=0.10,
        catalog_share=0.10,
        extra_quantity=0.25,
        margin=(0.45, 0.65),
        monthly=(1.4, 1.1, 1.1, 1.1, 1.3, 1.3, 1.2, 1.1, 0.9, 0.8, 0.8, 0.8),
        brands=("Summit", "Trailhead", "Velo", "Pacer", "Ironbark", "Riptide"),
        subcategories=(
            Subcategory("Fitness", 35.0, 0.70, ("Yoga Mat", "Dumbbell Set", "Resistance Band")),
            Subcategory("Camping", 80.0, 0.70, ("Tent", "Sleeping Bag", "Camp Stove", "Lantern")),
            Subcategory("Cycling", 60.0, 1.00, ("Bike Helmet", "Bike Light", "Road Bike", "Lock")),
            Subcategory("Team Sports", 28.0, 0.50, ("Football", "Basketball", "Shin Guards")),
        ),
    ),
    Category(
        name="Grocery",
        code="GRO",
        demand_share=0.14,
        catalog_share=0.12,
        extra_quantity=1.60,
        margin=(0.55, 0.75),
        monthly=(1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1),
        brands=(
            "Good Harvest",
            "Meadowfield",
            "Roastery Row",
            "Pantry Co.",
            "Sunvale",
            "Kettle Creek",
        ),
        subcategories=(
            Subcategory("Snacks", 3.5, 0.40, ("Crisps", "Granola Bar", "Trail Mix", "Crackers")),
            Subcategory("Beverages", 4.0, 0.50, ("Sparkling Water", "Lemonade", "Cold Brew")),
            Subcategory("Pantry", 5.0, 0.50, ("Olive Oil", "Pasta", "Rice", "Honey")),
            Subcategory("Coffee & Tea", 9.0, 0.50, ("Coffee Beans", "Green Tea", "Chai Blend")),
        ),
    ),
    Category(
        name="Toys & Games",
        code="TOY",
        demand_share=0.07,
        catalog_share=0.09,
        extra_quantity=0.20,
        margin=(0.40, 0.60),
        monthly=(0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1.1, 1.6, 2.4),
        brands=("Brickworks", "Playfair", "Wonderbox", "Tinker & Co.", "Jolly Otter", "Quest"),
        subcategories=(
            Subcategory("Board Games", 30.0, 0.45, ("Strategy Game", "Party Game", "Chess Set")),
            Subcategory("Puzzles", 18.0, 0.40, ("Jigsaw Puzzle", "Puzzle Cube", "3D Puzzle")),
            Subcategory("Building Sets", 45.0, 0.80, ("Building Set", "Castle Kit", "Robot Kit")),
            Subcategory("Dolls & Figures", 22.0, 0.50, ("Doll", "Action Figure", "Plush Toy")),
        ),
    ),
    Category(
        name="Books",
        code="BOO",
        demand_share=0.09,
        catalog_share=0.10,
        extra_quantity=0.25,
        margin=(0.55, 0.70),
        monthly=(1.0, 0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.2, 1.0, 1.0, 1.0, 1.3),
        brands=("Inkwell Press", "Lantern Books", "Harbor House", "Quillstone", "Paper Moon"),
        subcategories=(
            Subcategory("Fiction", 16.0, 0.30, ("Novel", "Thriller", "Short Stories")),
            Subcategory("Non-fiction", 22.0, 0.35, ("Biography", "Cookbook", "History")),
            Subcategory("Children", 11.0, 0.35, ("Picture Book", "Activity Book", "Fairy Tales")),
            Subcategory("Comics", 14.0, 0.35, ("Graphic Novel", "Manga", "Comic Annual")),
        ),
    ),
)

# Physical store formats: label in the store name, relative traffic, whether each city gets one.
STORE_FORMATS: tuple[tuple[str, str, float], ...] = (
    ("flagship", "Flagship", 3.0),
    ("mall", "Mall", 1.5),
    ("high_street", "High Street", 1.0),
    ("outlet", "Outlet", 0.8),
)

# Online storefronts: name, country of the storefront, the customer countries it serves.
ONLINE_STORES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Online Store US", "US", ("US",)),
    ("Online Store UK", "GB", ("GB",)),
    ("Online Store EU", "NL", ("DE", "FR", "NL")),
    ("Online Store CA", "CA", ("CA",)),
)

MONTH_NAMES: tuple[str, ...] = _words(
    "January, February, March, April, May, June, July, August, September, October, "
    "November, December"
)

DAY_NAMES: tuple[str, ...] = _words(
    "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"
)

__all__ = [
    "CATEGORIES",
    "COUNTRIES",
    "CURRENCIES",
    "DAY_NAMES",
    "EMAIL_DOMAINS",
    "FIRST_NAMES",
    "LAST_NAMES",
    "MONTH_NAMES",
    "ONLINE_STORES",
    "PRODUCT_ADJECTIVES",
    "SEGMENTS",
    "STORE_FORMATS",
    "Category",
    "City",
    "Country",
    "Subcategory",
]
