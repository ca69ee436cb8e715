"""The sandbox's topic taxonomy (``GET /reference/v1/topics``): a few hundred B2B topics.

Fixed data: the names are written below, the ids derived from them with a salted hash, so
every run on every machine has the same ids. Some names are near-duplicates of others on
purpose ("Account Based Advertising" beside "Account Based Marketing", "Data Warehousing"
beside "Data Warehouse"), for clients that suggest a topic for a misspelt name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Changing it changes every topic id.
TOPIC_ID_SALT = b"bombora-sandbox-topics-1"

# theme -> category -> topic names (no commas: the name filter splits on them)
TAXONOMY: dict[str, dict[str, tuple[str, ...]]] = {
    "Technology": {
        "Cloud Computing": (
            "Cloud Computing", "Cloud Migration", "Cloud Security", "Cloud Security Posture Management",
            "Cloud Storage", "Hybrid Cloud", "Multi-Cloud Management", "Infrastructure as a Service (IaaS)",
            "Platform as a Service (PaaS)", "Serverless Computing", "Cloud Cost Management", "Kubernetes",
            "Containerization",
        ),
        "Data Management": (
            "Data Warehouse", "Data Warehousing", "Cloud Data Warehouse", "Data Lake", "Data Lakehouse",
            "Data Integration", "Data Governance", "Data Quality", "Master Data Management",
            "ETL (Extract Transform Load)", "Data Pipeline", "Database Management", "NoSQL Databases",
            "Data Catalog",
        ),
        "Security": (
            "Cybersecurity", "Endpoint Security", "Network Security", "Identity and Access Management",
            "Zero Trust Security", "Security Information and Event Management (SIEM)", "Ransomware", "Phishing",
            "Data Loss Prevention", "Penetration Testing", "Threat Intelligence", "Multi-Factor Authentication",
            "Cloud Access Security Broker", "Security Awareness Training",
        ),
        "Analytics and AI": (
            "Predictive Analytics", "Predictive Modeling", "Prescriptive Analytics", "Business Intelligence",
            "Data Visualization", "Machine Learning", "Artificial Intelligence", "Generative AI",
            "Natural Language Processing", "Computer Vision", "Big Data Analytics", "Self-Service Analytics",
            "MLOps",
        ),
        "Software Development": (
            "DevOps", "Continuous Integration", "Application Performance Monitoring", "API Management",
            "Low-Code Development", "Microservices", "Software Testing", "Agile Software Development",
            "Version Control", "Observability",
        ),
        "Networking": (
            "Software-Defined WAN (SD-WAN)", "5G Networks", "Wi-Fi 6", "Network Monitoring", "VoIP",
            "Unified Communications", "Edge Computing", "Content Delivery Network",
        ),
        "IT Operations": (
            "IT Service Management", "IT Asset Management", "Help Desk Software", "Backup and Recovery",
            "Disaster Recovery", "Virtualization", "Data Center", "Remote Monitoring and Management",
        ),
    },
    "Marketing": {
        "Marketing Technology": (
            "Marketing Automation", "Marketing Automation Software", "Customer Data Platform",
            "Customer Data Management", "Email Marketing", "Marketing Analytics", "Attribution Modeling",
            "Tag Management", "Website Personalization", "Conversational Marketing",
            "Marketing Resource Management",
        ),
        "Account Based Marketing": (
            "Account Based Marketing", "Account Based Advertising", "Account Based Selling", "ABM Platforms",
            "Intent Data", "Buyer Intent", "Intent Data Providers", "Target Account Selection",
            "Account Engagement",
        ),
        "Digital Advertising": (
            "Programmatic Advertising", "Demand-Side Platform (DSP)", "Connected TV Advertising", "Retargeting",
            "Display Advertising", "Search Engine Marketing", "Paid Social", "Ad Fraud", "Contextual Advertising",
            "Cookieless Advertising",
        ),
        "Content and Brand": (
            "Content Marketing", "Search Engine Optimization", "Brand Management", "Video Marketing", "Webinars",
            "Event Marketing", "Influencer Marketing", "Social Media Marketing", "Public Relations",
        ),
        "Demand Generation": (
            "Lead Generation", "Lead Scoring", "Lead Nurturing", "Demand Generation", "B2B Marketing",
            "Marketing Qualified Leads", "Pipeline Acceleration",
        ),
    },
    "Sales": {
        "Sales Technology": (
            "Customer Relationship Management (CRM)", "Sales Enablement", "Sales Engagement Platform",
            "Sales Intelligence", "Conversation Intelligence", "Revenue Operations", "Configure Price Quote (CPQ)",
            "Sales Forecasting", "Territory Management",
        ),
        "Sales Strategy": (
            "Inside Sales", "Social Selling", "Sales Training", "Sales Compensation", "Channel Sales",
            "Partner Relationship Management", "Customer Success", "Churn Reduction",
        ),
    },
    "Finance": {
        "Financial Management": (
            "Accounts Payable Automation", "Accounts Receivable", "Expense Management",
            "Financial Planning and Analysis", "Budgeting Software", "Revenue Recognition", "Treasury Management",
            "Procurement Software", "Spend Management",
        ),
        "Payments and Fintech": (
            "Payment Processing", "Digital Payments", "Cryptocurrency", "Blockchain", "Embedded Finance",
            "Fraud Detection", "Open Banking", "Buy Now Pay Later",
        ),
        "Accounting and Tax": (
            "Cloud Accounting", "Tax Compliance", "Sales Tax Automation", "Audit Management",
            "Enterprise Resource Planning (ERP)",
        ),
        "Investing": (
            "Venture Capital", "Private Equity", "Mergers and Acquisitions", "Wealth Management", "ESG Investing",
        ),
    },
    "Human Resources": {
        "Talent": (
            "Recruiting Software", "Applicant Tracking System", "Talent Management", "Employee Onboarding",
            "Performance Management", "Learning Management System", "Employer Branding",
            "Diversity Equity and Inclusion",
        ),
        "Workforce": (
            "Payroll Software", "Human Capital Management", "Employee Benefits", "Employee Engagement",
            "Remote Work", "Hybrid Work", "Workforce Management", "Employee Experience",
        ),
    },
    "Operations": {
        "Supply Chain": (
            "Supply Chain Management", "Inventory Management", "Warehouse Management System", "Logistics",
            "Freight Management", "Demand Planning", "Supplier Management", "Last Mile Delivery",
        ),
        "Manufacturing": (
            "Industrial IoT", "Predictive Maintenance", "Manufacturing Execution System", "Digital Twin",
            "Additive Manufacturing", "Quality Management System", "Robotic Process Automation (RPA)",
        ),
        "Business Operations": (
            "Project Management Software", "Business Process Management", "Workflow Automation",
            "Document Management", "Electronic Signature", "Contract Lifecycle Management",
            "Customer Experience Management", "Contact Center as a Service",
        ),
    },
    "Commerce": {
        "E-commerce": (
            "E-commerce Platforms", "Headless Commerce", "B2B E-commerce", "Product Information Management",
            "Order Management", "Omnichannel Retail", "Point of Sale", "Marketplace Management",
        ),
    },
    "Healthcare": {
        "Healthcare IT": (
            "Electronic Health Records", "Telehealth", "Healthcare Analytics", "Patient Engagement",
            "Revenue Cycle Management", "Medical Billing", "Healthcare Interoperability", "HIPAA Compliance",
        ),
        "Life Sciences": (
            "Clinical Trials", "Drug Discovery", "Precision Medicine", "Medical Devices", "Pharmacovigilance",
        ),
    },
    "Legal": {
        "Legal Services": (
            "Legal", "Legal Technology", "E-Discovery", "Intellectual Property", "Contract Management",
            "Corporate Law",
        ),
        "Compliance": (
            "GDPR", "Regulatory Compliance", "Governance Risk and Compliance", "Data Privacy", "SOC 2 Compliance",
            "Anti-Money Laundering",
        ),
    },
    "Government": {
        "Other": (
            "Local Government", "Government Contracting", "Smart Cities", "Public Safety Technology",
            "Government Cloud",
        ),
    },
    "Education": {
        "Education Technology": (
            "Online Learning", "Student Information System", "Higher Education Technology", "K-12 Education",
            "Corporate Training",
        ),
    },
    "Energy and Sustainability": {
        "Sustainability": (
            "Carbon Accounting", "Renewable Energy", "Energy Management", "Electric Vehicles (EV)",
            "Sustainability Reporting", "Circular Economy",
        ),
    },
}  # fmt: skip

_DESCRIPTIONS = (
    "Research into {name}: products, vendors and practices in {category}.",
    "Content about {name} and how {theme} teams evaluate it.",
    "Buying research on {name}, part of {category} within {theme}.",
    "Comparisons, guides and pricing of {name} ({category}).",
)


@dataclass(frozen=True)
class Topic:
    id: int
    name: str
    theme: str
    category: str
    description: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "theme": self.theme,
            "category": self.category,
            "description": self.description,
        }


def _topic_id(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8, key=TOPIC_ID_SALT).digest()
    return 1_000_000 + int.from_bytes(digest, "big") % 9_000_000  # seven digits, as Bombora's


def _build() -> tuple[Topic, ...]:
    topics = []
    for theme, categories in TAXONOMY.items():
        for category, names in categories.items():
            for name in names:
                template = _DESCRIPTIONS[_topic_id(name) % len(_DESCRIPTIONS)]
                description = template.format(name=name, category=category, theme=theme)
                topics.append(Topic(_topic_id(name), name, theme, category, description))
    if len({topic.id for topic in topics}) != len(topics) or len({t.name.lower() for t in topics}) != len(topics):
        raise ValueError("Topic ids and names must be unique: change TOPIC_ID_SALT or the names")
    return tuple(topics)


TOPICS = _build()
TOPICS_BY_ID: Mapping[int, Topic] = {topic.id: topic for topic in TOPICS}
TOPIC_FILTERS = ("id", "name", "theme", "category", "description")


def known_topic(value: object) -> Topic | None:
    """The topic whose id ``value`` is, as clients send ids: a number or a string of digits."""
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return TOPICS_BY_ID.get(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return TOPICS_BY_ID.get(value)
    return None


def filter_topics(criteria: Mapping[str, Sequence[str]]) -> list[Topic]:
    """The topics matching any of ``criteria`` (filter -> values), as Bombora documents it: each
    filter on its own, joined with OR; ``id`` matches exactly, the others are case-insensitive
    substrings. No criteria: every topic."""
    if not criteria:
        return list(TOPICS)
    ids = {int(value) for value in criteria.get("id", ())}
    texts = {name: [value.lower() for value in values] for name, values in criteria.items() if name != "id"}

    def matches(topic: Topic) -> bool:
        if topic.id in ids:
            return True
        return any(
            value in getattr(topic, name).lower() for name, values in texts.items() for value in values
        )

    return [topic for topic in TOPICS if matches(topic)]
