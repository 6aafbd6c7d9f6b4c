"""Prices, usage types and service names of the sandbox organisation, and its money units.

Money is carried as integers of 1e-10 USD ("units") so every sum is exact; a price has at most 4
fractional digits and a quantity at most 6, so price x quantity is an exact number of units.
Service names are the ones Cost Explorer shows on its SERVICE dimension; the FOCUS ServiceName and
the CUR 2.0 product_product_name use the same strings so per account-day totals reconcile.
"""

from __future__ import annotations

from decimal import Decimal

MONEY_SCALE = 10
UNITS_PER_USD = 10**MONEY_SCALE
PRICE_SCALE = 4  # prices are integers of 1e-4 USD
QUANTITY_SCALE = 6  # quantities are integers of 1e-6
CURRENCY = "USD"

EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
EC2_OTHER = "EC2 - Other"
SAGEMAKER = "Amazon SageMaker"
S3 = "Amazon Simple Storage Service"
SUPPORT = "AWS Support (Business)"
SAVINGS_PLANS = "Savings Plans for AWS Compute usage"
TAX = "Tax"

SERVICE_CODES = {
    EC2_COMPUTE: "AmazonEC2",
    EC2_OTHER: "AmazonEC2",
    SAGEMAKER: "AmazonSageMaker",
    S3: "AmazonS3",
    SUPPORT: "AWSSupportBusiness",
    SAVINGS_PLANS: "ComputeSavingsPlans",
    TAX: "Tax",
}
SERVICE_CATEGORIES = {
    EC2_COMPUTE: "Compute",
    EC2_OTHER: "Networking",
    SAGEMAKER: "AI and Machine Learning",
    S3: "Storage",
    SUPPORT: "Management and Governance",
    SAVINGS_PLANS: "Compute",
    TAX: "Other",
}

REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)"}
REGION_PREFIXES = {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU"}
REGION_PRICE_FACTORS = {"us-east-1": Decimal("1"), "us-west-2": Decimal("1"), "eu-west-1": Decimal("1.12")}

# On-demand USD per instance-hour (us-east-1, Linux).
EC2_HOURLY = {
    "p4d.24xlarge": Decimal("32.7726"),
    "p5.48xlarge": Decimal("98.32"),
    "g5.xlarge": Decimal("1.006"),
    "g5.12xlarge": Decimal("5.672"),
    "inf2.xlarge": Decimal("0.7582"),
    "m6i.2xlarge": Decimal("0.384"),
    "c6i.xlarge": Decimal("0.17"),
    "r6i.4xlarge": Decimal("1.008"),
}
SAGEMAKER_HOSTING_HOURLY = {
    "ml.g5.xlarge": Decimal("1.408"),
    "ml.g5.12xlarge": Decimal("7.09"),
    "ml.inf2.xlarge": Decimal("0.99"),
    "ml.p4d.24xlarge": Decimal("37.688"),
    "ml.m5.xlarge": Decimal("0.23"),
}
# GPU types the organisation does not run but AWS's price list offers (published us-east-1 on-demand prices, Linux
# and SageMaker real-time hosting, to 4 digits): the price list has every type, not only the ones in use, and
# right-sizing looks for cheaper ones among them. No usage, billing or Compute Optimizer option comes from these.
EC2_CATALOGUE_HOURLY = {
    "g4dn.xlarge": Decimal("0.526"),
    "g4dn.2xlarge": Decimal("0.752"),
    "g4dn.4xlarge": Decimal("1.204"),
    "g4dn.12xlarge": Decimal("3.912"),
    "g5.2xlarge": Decimal("1.212"),
    "g5.4xlarge": Decimal("1.624"),
    "g6.xlarge": Decimal("0.8048"),
    "g6.2xlarge": Decimal("0.9776"),
    "g6.4xlarge": Decimal("1.3232"),
    "g6.12xlarge": Decimal("4.6016"),
    "g6e.xlarge": Decimal("1.861"),
    "g6e.2xlarge": Decimal("2.2421"),
    "g6e.12xlarge": Decimal("10.4926"),
}
SAGEMAKER_HOSTING_CATALOGUE_HOURLY = {
    "ml.g4dn.xlarge": Decimal("0.7364"),
    "ml.g4dn.2xlarge": Decimal("0.94"),
    "ml.g4dn.4xlarge": Decimal("1.505"),
    "ml.g4dn.12xlarge": Decimal("4.89"),
    "ml.g5.2xlarge": Decimal("1.515"),
    "ml.g5.4xlarge": Decimal("2.03"),
    "ml.g6.xlarge": Decimal("1.0064"),
    "ml.g6.2xlarge": Decimal("1.222"),
    "ml.g6.4xlarge": Decimal("1.654"),
    "ml.g6.12xlarge": Decimal("5.752"),
    "ml.g6e.xlarge": Decimal("2.328"),
    "ml.g6e.2xlarge": Decimal("2.803"),
    "ml.g6e.12xlarge": Decimal("13.117"),
}
SAGEMAKER_NOTEBOOK_HOURLY = {"ml.t3.medium": Decimal("0.05"), "ml.g5.xlarge": Decimal("1.408")}
SAGEMAKER_TRAINING_HOURLY = {
    "ml.p4d.24xlarge": Decimal("37.688"),
    "ml.g5.12xlarge": Decimal("7.09"),
    "ml.p5.48xlarge": Decimal("113.07"),
}
EBS_GP3_GB_MONTH = Decimal("0.08")
S3_STANDARD_GB_MONTH = Decimal("0.023")
S3_TRANSFER_OUT_PER_GB = Decimal("0.09")
NAT_HOURLY = Decimal("0.045")
NAT_PER_GB = Decimal("0.045")

SAVINGS_PLAN_RATE_PERCENT = 72  # a Compute Savings Plan charges 72% of on-demand for covered usage
TAX_RATE_PERCENT = 6
GPU_FAMILIES = ("p4d", "p5", "g5", "inf2")


def regional_price(price: Decimal, region: str) -> Decimal:
    return (price * REGION_PRICE_FACTORS[region]).quantize(Decimal(1).scaleb(-PRICE_SCALE))


def usage_type(region: str, meter: str, *, prefix_us_east_1: bool = True) -> str:
    """`USE1-Host:ml.g5.xlarge`; EC2 in us-east-1 carries no prefix (`BoxUsage:p4d.24xlarge`), as in real CURs."""
    if region == "us-east-1" and not prefix_us_east_1:
        return meter
    return f"{REGION_PREFIXES[region]}-{meter}"


def price_units(price: Decimal) -> int:
    """A price as an integer of 1e-4 USD (exact: prices carry at most 4 fractional digits)."""
    scaled = price.scaleb(PRICE_SCALE)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} has more than {PRICE_SCALE} fractional digits")
    return int(scaled)


def quantity_units(quantity: Decimal | int) -> int:
    return int((Decimal(quantity).scaleb(QUANTITY_SCALE)).to_integral_value())


def units_to_decimal(units: int) -> Decimal:
    """Integer 1e-10 USD units as a Decimal with exactly 10 fractional digits."""
    return Decimal(int(units)).scaleb(-MONEY_SCALE)


def units_to_text(units: int) -> str:
    return f"{units_to_decimal(units):f}"
