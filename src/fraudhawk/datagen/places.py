"""Where simulated people live and travel: countries with their continent, cities and time zones.

Offsets are standard time: daylight saving is left out (an hour's shift of habits in summer would not
change what a login model can learn from them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Country:
    code: str
    continent: str
    users: float  # share of the simulated customers living there (0: attackers' and travellers' only)
    cities: tuple[tuple[str, float], ...]  # (city, UTC offset in hours)


COUNTRIES = (
    Country("US", "NA", 30, (("New York", -5), ("Chicago", -6), ("Denver", -7), ("Los Angeles", -8), ("Miami", -5))),
    Country("CA", "NA", 4, (("Toronto", -5), ("Montreal", -5), ("Vancouver", -8), ("Calgary", -7))),
    Country("MX", "NA", 3, (("Mexico City", -6), ("Guadalajara", -6), ("Monterrey", -6))),
    Country("BR", "SA", 5, (("Sao Paulo", -3), ("Rio de Janeiro", -3), ("Belo Horizonte", -3))),
    Country("AR", "SA", 1, (("Buenos Aires", -3), ("Cordoba", -3))),
    Country("CO", "SA", 1, (("Bogota", -5), ("Medellin", -5))),
    Country("GB", "EU", 7, (("London", 0), ("Manchester", 0), ("Glasgow", 0), ("Bristol", 0))),
    Country("DE", "EU", 6, (("Berlin", 1), ("Munich", 1), ("Hamburg", 1), ("Cologne", 1))),
    Country("FR", "EU", 5, (("Paris", 1), ("Lyon", 1), ("Marseille", 1))),
    Country("ES", "EU", 3, (("Madrid", 1), ("Barcelona", 1), ("Valencia", 1))),
    Country("IT", "EU", 3, (("Rome", 1), ("Milan", 1), ("Naples", 1))),
    Country("NL", "EU", 2, (("Amsterdam", 1), ("Rotterdam", 1))),
    Country("PL", "EU", 2, (("Warsaw", 1), ("Krakow", 1))),
    Country("SE", "EU", 1, (("Stockholm", 1), ("Gothenburg", 1))),
    Country("CH", "EU", 1, (("Zurich", 1), ("Geneva", 1))),
    Country("TR", "EU", 1, (("Istanbul", 3), ("Ankara", 3))),
    Country("IN", "AS", 4, (("Mumbai", 5.5), ("Delhi", 5.5), ("Bangalore", 5.5))),
    Country("JP", "AS", 4, (("Tokyo", 9), ("Osaka", 9))),
    Country("KR", "AS", 2, (("Seoul", 9), ("Busan", 9))),
    Country("ID", "AS", 1, (("Jakarta", 7), ("Surabaya", 7))),
    Country("SG", "AS", 1, (("Singapore", 8),)),
    Country("AU", "OC", 3, (("Sydney", 10), ("Melbourne", 10), ("Perth", 8), ("Brisbane", 10))),
    Country("ZA", "AF", 1, (("Johannesburg", 2), ("Cape Town", 2))),
    # where attacks come from and people travel to, beside the above
    Country("PT", "EU", 0, (("Lisbon", 0),)),
    Country("GR", "EU", 0, (("Athens", 2),)),
    Country("AT", "EU", 0, (("Vienna", 1),)),
    Country("IE", "EU", 0, (("Dublin", 0),)),
    Country("TH", "AS", 0, (("Bangkok", 7),)),
    Country("AE", "AS", 0, (("Dubai", 4),)),
    Country("RU", "EU", 0, (("Moscow", 3),)),
    Country("UA", "EU", 0, (("Kyiv", 2),)),
    Country("RO", "EU", 0, (("Bucharest", 2),)),
    Country("CN", "AS", 0, (("Shanghai", 8),)),
    Country("VN", "AS", 0, (("Hanoi", 7),)),
    Country("PH", "AS", 0, (("Manila", 8),)),
    Country("NG", "AF", 0, (("Lagos", 1),)),
    Country("EG", "AF", 0, (("Cairo", 2),)),
    Country("MA", "AF", 0, (("Casablanca", 0),)),
)
BY_CODE = {country.code: country for country in COUNTRIES}
# Where the simulated attackers sit when they do not hide in the victim's own country
ATTACKERS = ("RU", "UA", "RO", "NG", "VN", "CN", "BR", "IN", "ID", "PH", "TR", "MA", "EG", "US", "NL", "DE")
# Where travellers go, beside other home countries
DESTINATIONS = ("PT", "GR", "AT", "IE", "TH", "AE", "MX", "ES", "IT", "FR", "GB", "US", "JP", "AU", "DE", "NL", "CH")
