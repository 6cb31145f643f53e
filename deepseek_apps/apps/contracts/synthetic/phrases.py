"""Vocabulary of the synthetic contract generator (names, roles, laws, clause wordings)."""

from __future__ import annotations

AGREEMENT_KINDS = ["Master Services", "License", "Distribution", "Supply", "Consulting", "Reseller"]

ROLE_PAIRS = [
    ("Provider", "Customer"),
    ("Licensor", "Licensee"),
    ("Supplier", "Distributor"),
    ("Company", "Consultant"),
    ("Vendor", "Purchaser"),
    ("Manufacturer", "Reseller"),
]

COMPANIES = [
    "Acme Robotics, Inc.",
    "Blue Harbor Logistics LLC",
    "Cedar Point Software Corp.",
    "Delta Bioscience Holdings, Inc.",
    "Evergreen Media Group LLC",
    "Falcon Ridge Energy Corporation",
    "Granite Peak Analytics, Inc.",
    "Helios Medical Devices Ltd.",
    "Ironwood Capital Partners LP",
    "Juniper Networks Solutions, Inc.",
    "Kestrel Aerospace Corp.",
    "Lumen Retail Brands, Inc.",
    "Meridian Foods Company",
    "Northstar Telecom Holdings LLC",
    "Oakline Pharmaceuticals, Inc.",
    "Pinnacle Data Systems Corp.",
]

# (text in the contract, normalised jurisdiction)
JURISDICTIONS = [
    ("the State of New York", "New York"),
    ("the State of Delaware", "Delaware"),
    ("the State of California", "California"),
    ("the Commonwealth of Massachusetts", "Massachusetts"),
    ("the State of Texas", "Texas"),
    ("England and Wales", "England and Wales"),
    ("the Province of Ontario", "Ontario"),
    ("the State of Nevada", "Nevada"),
]

# code -> (symbol or "", ISO 4217 code)
CURRENCIES = {"USD": ("$", "USD"), "EUR": ("", "EUR"), "GBP": ("", "GBP"), "CAD": ("", "CAD")}

NUMBER_WORDS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
    11: "eleven",
    12: "twelve",
}

# CUAD category -> wordings ({a} and {b} are the two role aliases)
CLAUSES = {
    "Non-Compete": [
        "Non-Competition. During the term and for two years thereafter, {b} shall not engage in any business "
        "that competes with the products of {a} in the Territory.",
        "{b} agrees that it will not, directly or indirectly, develop or sell any product competitive with "
        "the products of {a} while this Agreement is in effect.",
    ],
    "Anti-Assignment": [
        "Assignment. Neither party may assign or transfer this Agreement without the prior written consent "
        "of the other party, and any attempted assignment without such consent shall be void.",
        "{b} shall not assign any of its rights or delegate any of its obligations under this Agreement "
        "without the prior written consent of {a}.",
    ],
    "Cap On Liability": [
        "Limitation of Liability. In no event shall either party's aggregate liability under this Agreement "
        "exceed the total fees paid by {b} in the twelve months preceding the claim.",
        "The total liability of {a} arising out of this Agreement shall not exceed the amounts paid hereunder.",
    ],
    "Termination For Convenience": [
        "Termination for Convenience. Either party may terminate this Agreement at any time, for any reason "
        "or no reason, upon thirty days' prior written notice to the other party.",
        "{b} may terminate this Agreement for convenience upon written notice to {a}.",
    ],
    "Exclusivity": [
        "Exclusivity. {a} appoints {b} as its exclusive partner in the Territory and shall not appoint any "
        "other distributor for the products during the term.",
        "During the term, {b} shall purchase the products exclusively from {a}.",
    ],
    "Audit Rights": [
        "Audit. {a} may, upon reasonable notice, audit the books and records of {b} relating to this "
        "Agreement once per calendar year.",
    ],
}

# boilerplate sections that make contracts run over several pages
BOILERPLATE = [
    "Confidentiality. Each party shall hold the Confidential Information of the other party in strict confidence, "
    "shall use it only to perform this Agreement, and shall disclose it only to its employees and advisers who need "
    "to know it and are bound by obligations of confidentiality no less protective than those set out herein.",
    "Notices. All notices under this Agreement shall be in writing and delivered by hand, by courier or by "
    "registered mail to the addresses set out above, or to such other address as a party may designate by notice.",
    "Entire Agreement. This Agreement constitutes the entire agreement between the parties with respect to its "
    "subject matter and supersedes all prior and contemporaneous understandings, agreements and representations.",
    "Severability. If any provision of this Agreement is held invalid or unenforceable, the remaining provisions "
    "shall remain in full force and effect, and the invalid provision shall be replaced by a valid provision that "
    "comes closest to the intention of the parties.",
    "Force Majeure. Neither party shall be liable for any failure or delay in performance caused by events beyond "
    "its reasonable control, including acts of God, war, terrorism, labour disputes, epidemics or failures of "
    "public utilities, provided that it notifies the other party promptly.",
    "Warranties. Each party represents and warrants that it is duly organised and validly existing, that it has "
    "full power and authority to enter into this Agreement, and that its performance will not breach any other "
    "agreement to which it is a party.",
    "Insurance. Each party shall maintain, at its own expense, commercial general liability insurance with "
    "reputable insurers in amounts customary in its industry for the term of this Agreement.",
    "Independent Contractors. The parties are independent contractors. Nothing in this Agreement creates a "
    "partnership, joint venture, agency or employment relationship between the parties.",
    "Counterparts. This Agreement may be executed in counterparts, each of which shall be deemed an original and "
    "all of which together shall constitute one and the same instrument.",
]
